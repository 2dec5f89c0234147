package config

import "testing"

func TestSite(t *testing.T) {
	for origin, want := range map[string]string{
		"https://registration.smart-id.com":     "https://smart-id.com",
		"https://a1.evil.example":               "https://evil.example",
		"https://a.b.co.uk:8443":                "https://b.co.uk",
		"https://x.y.github.io":                 "https://y.github.io",
		"https://127.0.0.1:8443":                "https://127.0.0.1",
		"https://[::1]:8443":                    "https://[::1]",
		"http://localhost:8080":                 "http://localhost",
		"https://co.uk":                         "https://co.uk",
		"https://xn--80ak6aa92e.xn--80ak6aa92e": "https://xn--80ak6aa92e.xn--80ak6aa92e",
		"not an origin":                         "not an origin",
	} {
		if got := Site(origin); got != want {
			t.Errorf("Site(%q) = %q, want %q", origin, got, want)
		}
	}
}
