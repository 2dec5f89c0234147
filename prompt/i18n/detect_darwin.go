//go:build darwin

package i18n

import (
	"os"
	"os/exec"
	"strings"
)

// Detect asks for the user's preferred languages (AppleLanguages, what
// System Settings sets), since a LaunchAgent does not get LANG. If that
// fails it falls back to the POSIX variables. Best effort.
func Detect() (Lang, bool) {
	out, err := exec.Command("defaults", "read", "-g", "AppleLanguages").Output()
	if err == nil {
		// Output looks like: (\n    "nl-BE",\n    "en-BE"\n)
		for _, f := range strings.FieldsFunc(string(out), func(r rune) bool {
			return r == '(' || r == ')' || r == ',' || r == '"' || r == '\n' || r == ' '
		}) {
			if l, ok := Parse(f); ok {
				return l, true
			}
		}
	}
	return detectEnv(os.Getenv)
}
