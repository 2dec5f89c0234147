package prompt

import (
	"strings"
	"unicode"

	"github.com/cardbridge/cardbridge/config"
)

// maxOriginDisplay bounds how much of an origin a dialog shows, except
// for its registrable domain, which is always shown whole.
const maxOriginDisplay = 80

// maxMarksPerBase bounds the combining marks kept on one base character
// of a page-supplied text: two cover the languages of the Belgian eID's
// users even in decomposed form (Vietnamese "ộ" is o, dot below,
// circumflex), while a stack of dozens draws over the dialog's other
// lines.
const maxMarksPerBase = 2

// DisplayOrigin renders an attacker-chosen origin for a dialog.
//
// A well-formed origin is shown in its canonical ASCII form: an IDN stays
// in its punycode ("xn--") form, so a look-alike domain cannot pass for
// the real one. A long origin is cut on the left of its registrable
// domain (config.RegistrableDomain), keeping the scheme, the end of the
// subdomains, the registrable domain and the port: the registrable domain
// tells who owns the site, so it is never cut, even when it alone is
// longer than the bound. Anything else is shown with every byte outside
// printable ASCII replaced by '?' and cut on the left in the same way,
// so it can neither spoof layout (new lines, bidirectional overrides) nor
// fill the dialog, nor push its end out of view.
func DisplayOrigin(origin string) string {
	if n, err := config.NormalizeOrigin(origin, true); err == nil {
		if len(n) <= maxOriginDisplay {
			return n
		}
		scheme, hostport, _ := strings.Cut(n, "://")
		host, port := hostport, ""
		if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
			host, port = hostport[:i], hostport[i:]
		}
		owner := config.RegistrableDomain(host)
		sub := strings.TrimSuffix(host, owner) // "" or ends with "."
		keep := maxOriginDisplay - len(scheme) - len("://…") - len(owner) - len(port)
		if keep < 0 {
			keep = 0
		}
		if len(sub) > keep {
			sub = "…" + sub[len(sub)-keep:]
		}
		return scheme + "://" + sub + owner + port
	}
	var b strings.Builder
	for i := 0; i < len(origin); i++ {
		c := origin[i]
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		b.WriteByte(c)
	}
	s := b.String()
	if s == "" {
		return "(?)"
	}
	if len(s) <= maxOriginDisplay {
		return s
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || len(scheme) > len("https") {
		scheme, rest = "", s
	} else {
		scheme += "://"
	}
	keep := maxOriginDisplay - len(scheme) - len("…")
	return scheme + "…" + rest[len(rest)-keep:]
}

// DisplayText renders page-supplied text such as a document name: control
// and formatting characters (new lines, bidirectional overrides, zero-width
// characters) are replaced by spaces or dropped, and so are the other
// default-ignorable code points, which draw nothing (the Hangul fillers
// U+3164, U+115F, U+1160 and U+FFA0 among them, which fonts render as
// blank space), runs of spaces are collapsed into one, combining marks
// beyond maxMarksPerBase on one character (and any with no character to
// sit on) are dropped, invalid UTF-8 becomes U+FFFD, and the result is cut
// to max runes. Letters of any script stay, since document names are
// legitimately in the user's language.
func DisplayText(s string, max int) string {
	var b strings.Builder
	n, marks := 0, 0
	space, base := false, false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r):
			if space {
				continue
			}
			r = ' '
		case invisible(r):
			continue
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
			if !base || marks == maxMarksPerBase {
				continue
			}
			marks++
			b.WriteRune(r) // part of the character before: not counted
			continue
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
		space = r == ' '
		base, marks = !space, 0
	}
	return strings.TrimSpace(b.String())
}

// invisible reports whether r draws nothing and moves nothing: control
// and format characters (bidi overrides, zero-width joiners), private
// use, and the Unicode Default_Ignorable_Code_Point property's other
// members (variation selectors, Hangul fillers, tags, reserved ranges).
// U+180E is a format character, covered by Cf.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Co,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
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
