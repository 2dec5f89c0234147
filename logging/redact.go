package logging

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Redactor is a slog.Handler that removes secrets before passing records
// on:
//   - attributes whose key names a PIN ("pin", "PIN", "newPin", "puk", …)
//     are dropped whole, value unseen;
//   - anything shaped like a Belgian national number (11 digits, bare or
//     written YY.MM.DD-SSS.CC) in the message or in any string, error or
//     Stringer value is masked to its first 6 digits (the birth date part,
//     as the bridge logs it) followed by asterisks.
//
// It is defence in depth: callers should not log these in the first place.
type Redactor struct {
	next slog.Handler
}

// NewRedactor wraps next.
func NewRedactor(next slog.Handler) *Redactor { return &Redactor{next: next} }

// Enabled implements slog.Handler.
func (r *Redactor) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (r *Redactor) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, MaskNationalNumbers(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		if a, ok := redactAttr(a); ok {
			out.AddAttrs(a)
		}
		return true
	})
	return r.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (r *Redactor) WithAttrs(attrs []slog.Attr) slog.Handler {
	var kept []slog.Attr
	for _, a := range attrs {
		if a, ok := redactAttr(a); ok {
			kept = append(kept, a)
		}
	}
	return &Redactor{next: r.next.WithAttrs(kept)}
}

// WithGroup implements slog.Handler.
func (r *Redactor) WithGroup(name string) slog.Handler {
	return &Redactor{next: r.next.WithGroup(name)}
}

// IsSecretKey reports whether an attribute key names a PIN or PUK.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, "pin") || strings.HasSuffix(k, "pincode") || strings.HasSuffix(k, "puk")
}

func redactAttr(a slog.Attr) (slog.Attr, bool) {
	if IsSecretKey(a.Key) {
		return slog.Attr{}, false
	}
	// Resolve LogValuers first so that their output is redacted too.
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, MaskNationalNumbers(v.String())), true
	case slog.KindGroup:
		var kept []any
		for _, g := range v.Group() {
			if g, ok := redactAttr(g); ok {
				kept = append(kept, g)
			}
		}
		return slog.Group(a.Key, kept...), true
	case slog.KindInt64, slog.KindUint64:
		// An 11-digit integer is as identifying as the string.
		s := v.String()
		if m := MaskNationalNumbers(s); m != s {
			return slog.String(a.Key, m), true
		}
		return slog.Attr{Key: a.Key, Value: v}, true
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, MaskNationalNumbers(x.Error())), true
		case fmt.Stringer:
			return slog.String(a.Key, MaskNationalNumbers(x.String())), true
		case []byte:
			return slog.String(a.Key, MaskNationalNumbers(string(x))), true
		}
		// Other values are rendered by the JSON handler (json.Marshal);
		// render them here instead so the text can be checked.
		return slog.String(a.Key, MaskNationalNumbers(fmt.Sprintf("%+v", v.Any()))), true
	}
	return slog.Attr{Key: a.Key, Value: v}, true
}

// nnPattern matches an 11-digit national number, bare (85073003328) or in
// its printed form (85.07.30-033.28).
var nnPattern = regexp.MustCompile(`\d{2}\.?\d{2}\.?\d{2}[-.]?\d{3}\.?\d{2}`)

// MaskNationalNumbers replaces every national-number-shaped run of digits
// that is not part of a longer number with its first 6 digits and 5
// asterisks.
func MaskNationalNumbers(s string) string {
	if len(s) < 11 {
		return s
	}
	locs := nnPattern.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		start, end := l[0], l[1]
		if (start > 0 && isDigit(s[start-1])) || (end < len(s) && isDigit(s[end])) {
			continue // part of a longer number: a card or chip number, a timestamp
		}
		b.WriteString(s[last:start])
		digits := 0
		for i := start; i < end; i++ {
			if isDigit(s[i]) {
				digits++
				if digits > 6 {
					b.WriteByte('*')
					continue
				}
			}
			b.WriteByte(s[i])
		}
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
