// Package i18n holds the user-visible strings of cardbridge's native
// dialogs and tray menu in English, Dutch, French and German, and picks
// the language from the operating system's locale.
//
// Belgium's three official languages plus English cover the users of the
// Belgian eID; other locales fall back to English.
package i18n

import (
	"fmt"
	"strings"
)

// Lang is a supported user-interface language.
type Lang string

// Supported languages.
const (
	EN Lang = "en"
	NL Lang = "nl"
	FR Lang = "fr"
	DE Lang = "de"
)

// Langs lists the supported languages.
var Langs = []Lang{EN, NL, FR, DE}

// Parse maps a locale name ("nl_BE.UTF-8", "fr-BE", "de", "en_US@euro")
// to a supported language. ok is false for unsupported or empty names and
// for the "C"/"POSIX" locales, which say nothing about the user.
func Parse(locale string) (l Lang, ok bool) {
	s := strings.ToLower(strings.TrimSpace(locale))
	if i := strings.IndexAny(s, "_-.@:"); i >= 0 {
		s = s[:i]
	}
	switch Lang(s) {
	case EN, NL, FR, DE:
		return Lang(s), true
	}
	return EN, false
}

// Choose returns the override if it names a supported language, else the
// operating system's language (see Detect), else English.
func Choose(override string) Lang {
	if l, ok := Parse(override); ok {
		return l
	}
	if l, ok := Detect(); ok {
		return l
	}
	return EN
}

// T returns the message for key in l, formatted with args. A key missing
// in l falls back to English; an unknown key is returned as is so that a
// programming mistake shows rather than leaving an empty dialog.
func (l Lang) T(key string, args ...any) string {
	m, ok := catalog[l][key]
	if !ok {
		m, ok = catalog[EN][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}
