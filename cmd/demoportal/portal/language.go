package portal

import (
	"slices"
	"strconv"
	"strings"
)

// Languages are the languages of the demo pages, the first being the
// fallback: Belgium's three official languages and English.
var Languages = []string{"en", "nl", "fr", "de"}

// negotiateLanguage picks the page language from an Accept-Language header
// (RFC 9110, section 12.5.4): the supported language with the highest
// weight, matched on the primary subtag ("nl-BE" is Dutch); earlier entries
// win ties. Without a match it is English.
func negotiateLanguage(header string) string {
	best, bestQ := Languages[0], 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if q > bestQ && slices.Contains(Languages, primary) {
			best, bestQ = primary, q
		}
	}
	return best
}
