//go:build windows

package i18n

import "golang.org/x/sys/windows"

// Detect returns the first supported language of the user's preferred UI
// languages (Settings > Language), e.g. "nl-BE".
func Detect() (Lang, bool) {
	langs, err := windows.GetUserPreferredUILanguages(windows.MUI_LANGUAGE_NAME)
	if err != nil {
		return EN, false
	}
	for _, s := range langs {
		if l, ok := Parse(s); ok {
			return l, true
		}
	}
	return EN, false
}
