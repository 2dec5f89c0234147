package prompt

import (
	"strings"
	"unicode"

	"github.com/cardbridge/cardbridge/config"
)

// maxOriginDisplay bounds how much of an origin a dialog shows.
const maxOriginDisplay = 80

// DisplayOrigin renders an attacker-chosen origin for a dialog.
//
// A well-formed origin is shown in its canonical ASCII form: an IDN stays
// in its punycode ("xn--") form, so a look-alike domain cannot pass for
// the real one. A long origin is cut on the left, keeping the scheme and
// the end of the host name, which is the part that tells who owns it.
// Anything else is shown with every byte outside printable ASCII replaced
// by '?', cut to the same length, so it can neither spoof layout (new
// lines, bidirectional overrides) nor fill the dialog.
func DisplayOrigin(origin string) string {
	if n, err := config.NormalizeOrigin(origin, true); err == nil {
		if len(n) <= maxOriginDisplay {
			return n
		}
		scheme, rest, _ := strings.Cut(n, "://")
		keep := maxOriginDisplay - len(scheme) - len("://…")
		return scheme + "://…" + rest[len(rest)-keep:]
	}
	var b strings.Builder
	for i := 0; i < len(origin) && b.Len() < maxOriginDisplay; i++ {
		c := origin[i]
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		b.WriteByte(c)
	}
	if len(origin) > maxOriginDisplay {
		b.WriteString("…")
	}
	if b.Len() == 0 {
		return "(?)"
	}
	return b.String()
}

// DisplayText renders page-supplied text such as a document name: control
// and formatting characters (new lines, bidirectional overrides, zero-width
// characters) are replaced by spaces or dropped, invalid UTF-8 by U+FFFD,
// and the result is cut to max runes. Letters of any script stay, since
// document names are legitimately in the user's language.
func DisplayText(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r):
			r = ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r):
			continue // bidi overrides, zero-width joiners, private use
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// FormatDigest groups a hex digest in blocks of 8 characters, 4 blocks per
// line, so that a user can compare it with what the portal shows. Non-hex
// characters are dropped.
func FormatDigest(hex string) string {
	var clean []byte
	for i := 0; i < len(hex) && len(clean) < 256; i++ {
		c := hex[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			continue
		}
		clean = append(clean, c)
	}
	var b strings.Builder
	for i := 0; i < len(clean); i += 8 {
		if i > 0 {
			if i%32 == 0 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		b.Write(clean[i:min(i+8, len(clean))])
	}
	return b.String()
}
