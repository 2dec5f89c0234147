package i18n

import "strings"

// detectEnv implements the Unix locale lookup over getenv so that tests
// can supply an environment.
func detectEnv(getenv func(string) string) (Lang, bool) {
	// LANGUAGE is ignored by glibc when the locale is "C"; do the same.
	eff := ""
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(k); v != "" {
			eff = v
			break
		}
	}
	if eff != "" && eff != "C" && eff != "POSIX" {
		for _, item := range strings.Split(getenv("LANGUAGE"), ":") {
			if l, ok := Parse(item); ok {
				return l, true
			}
		}
	}
	return Parse(eff)
}
