package i18n

import (
	"regexp"
	"slices"
	"testing"
)

var verb = regexp.MustCompile(`%[a-z]`)

func TestCatalogComplete(t *testing.T) {
	for key, en := range catalog[EN] {
		want := verb.FindAllString(en, -1)
		for _, l := range Langs {
			m, ok := catalog[l][key]
			if !ok {
				t.Errorf("%s: missing %q", l, key)
				continue
			}
			if m == "" {
				t.Errorf("%s: empty %q", l, key)
			}
			if got := verb.FindAllString(m, -1); !slices.Equal(got, want) {
				t.Errorf("%s %q: verbs %v, English has %v", l, key, got, want)
			}
		}
	}
	for _, l := range Langs {
		for key := range catalog[l] {
			if _, ok := catalog[EN][key]; !ok {
				t.Errorf("%s has %q which English lacks", l, key)
			}
		}
	}
}

func TestT(t *testing.T) {
	if got := NL.T("pin.tries", 3); got != "U hebt nog 3 pogingen." {
		t.Errorf("NL pin.tries = %q", got)
	}
	if got := FR.T("consent.deny"); got != "Refuser" {
		t.Errorf("FR deny = %q", got)
	}
	if got := Lang("xx").T("cancel"); got != "Cancel" {
		t.Errorf("fallback = %q", got)
	}
	if got := DE.T("no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Lang
		ok   bool
	}{
		{"nl_BE.UTF-8", NL, true},
		{"fr-BE", FR, true},
		{"de_DE@euro", DE, true},
		{"EN_us", EN, true},
		{"nl", NL, true},
		{"C", EN, false},
		{"POSIX", EN, false},
		{"C.UTF-8", EN, false},
		{"es_ES.UTF-8", EN, false},
		{"", EN, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDetectEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want Lang
		ok   bool
	}{
		{map[string]string{"LANG": "fr_BE.UTF-8"}, FR, true},
		{map[string]string{"LANG": "fr_BE.UTF-8", "LC_MESSAGES": "nl_BE.UTF-8"}, NL, true},
		{map[string]string{"LANG": "fr_BE.UTF-8", "LC_MESSAGES": "nl_BE.UTF-8", "LC_ALL": "de_BE.UTF-8"}, DE, true},
		{map[string]string{"LANG": "en_US.UTF-8", "LANGUAGE": "es:nl:en"}, NL, true},
		{map[string]string{"LANG": "C", "LANGUAGE": "nl"}, EN, false}, // glibc ignores LANGUAGE under C
		{map[string]string{"LC_ALL": "es_ES.UTF-8", "LANG": "nl_BE"}, EN, false},
		{map[string]string{}, EN, false},
	}
	for _, tt := range tests {
		got, ok := detectEnv(func(k string) string { return tt.env[k] })
		if got != tt.want || ok != tt.ok {
			t.Errorf("detectEnv(%v) = %v, %v; want %v, %v", tt.env, got, ok, tt.want, tt.ok)
		}
	}
}

func TestChooseOverride(t *testing.T) {
	t.Setenv("LC_ALL", "nl_BE.UTF-8")
	if got := Choose("de"); got != DE {
		t.Errorf("override ignored: %v", got)
	}
	if got := Choose(""); got != NL {
		t.Errorf("OS locale ignored: %v", got)
	}
	if got := Choose("klingon"); got != NL {
		t.Errorf("bad override not ignored: %v", got)
	}
}
