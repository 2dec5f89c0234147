package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Redactor is a slog.Handler that removes secrets before passing records
// on:
//   - attributes whose key names a PIN ("pin", "PIN", "newPin", "puk", …)
//     are dropped whole, value unseen, and so are struct fields and map
//     entries of that name inside any logged value;
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
		// Other values (structs, maps, slices) would be rendered by the
		// JSON handler through json.Marshal, so they are cleaned in that
		// form: a field named like a PIN is dropped at any depth, exactly as
		// an attribute of that name would be.
		return slog.Any(a.Key, redactAny(v.Any())), true
	case slog.KindFloat64:
		// A national number held in a float64 (a JSON number decoded into
		// any) prints as 8.5073003328e+10; check its integer form.
		f := v.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			s := strconv.FormatFloat(f, 'f', -1, 64)
			if m := MaskNationalNumbers(s); m != s {
				return slog.String(a.Key, m), true
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}, true
}

// redactAny returns x as the JSON handler would see it, with every object
// member whose key names a secret removed and every national number masked.
// A value that does not marshal is printed with %+v and masked, and then
// any "key:value" pair whose key names a secret is cut out of the text.
func redactAny(x any) any {
	raw, err := json.Marshal(x)
	if err != nil {
		return maskSecretPairs(MaskNationalNumbers(fmt.Sprintf("%+v", x)))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return maskSecretPairs(MaskNationalNumbers(fmt.Sprintf("%+v", x)))
	}
	return redactTree(tree)
}

func redactTree(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			if IsSecretKey(k) {
				delete(t, k)
				continue
			}
			t[k] = redactTree(v)
		}
		return t
	case []any:
		for i, v := range t {
			t[i] = redactTree(v)
		}
		return t
	case string:
		return MaskNationalNumbers(t)
	case json.Number:
		if m := MaskNationalNumbers(t.String()); m != t.String() {
			return m
		}
		return t
	}
	return x
}

// secretPair matches "Key:value" or "Key=value" as %+v and similar
// formats print a struct field or map entry; the key is checked with
// IsSecretKey.
var secretPair = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)([:=])([^\s,}\]]*)`)

func maskSecretPairs(s string) string {
	return secretPair.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretPair.FindStringSubmatch(m)
		if IsSecretKey(sub[1]) {
			return sub[1] + sub[2] + "[redacted]"
		}
		return m
	})
}

// nnPattern matches an 11-digit national number, bare (85073003328), in
// its printed form (85.07.30-033.28) or with other dots and dashes between
// the groups (850730-033-28).
var nnPattern = regexp.MustCompile(`\d{2}[-.]?\d{2}[-.]?\d{2}[-.]?\d{3}[-.]?\d{2}`)

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
