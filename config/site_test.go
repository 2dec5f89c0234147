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

// TestSiteIPv6Prefix: every IPv6 address was its own site, so a page
// served from many addresses of one network (a /64 is the smallest that
// one subscriber gets) escaped every per-site cooldown and back-off by
// moving to the next address.
func TestSiteIPv6Prefix(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"https://[2001:db8:1:2::1]", "https://[2001:db8:1:2:ffff:ffff:ffff:ffff]:8443"},
		{"https://[2001:db8:1:2::1]", "https://[2001:db8:1:2::]"},
		{"http://[fe80::1]:8080", "http://[fe80::dead:beef]"},
		{"https://[2001:DB8:1:2::1]", "https://[2001:db8:1:2:0:0:0:2]"},
	} {
		if sa, sb := Site(tc.a), Site(tc.b); sa != sb {
			t.Errorf("Site(%q) = %q, Site(%q) = %q: want one site", tc.a, sa, tc.b, sb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"https://[2001:db8:1:2::1]", "https://[2001:db8:1:3::1]"},
		{"https://[2001:db8:1:2::1]", "http://[2001:db8:1:2::1]"},
		{"https://192.0.2.1", "https://192.0.2.2"},
		{"https://[::ffff:c000:201]", "https://[::ffff:c000:202]"},
		{"https://[::1]", "https://[::2]"},
	} {
		if sa, sb := Site(tc.a), Site(tc.b); sa == sb {
			t.Errorf("Site(%q) = Site(%q) = %q: want two sites", tc.a, tc.b, sa)
		}
	}
	for origin, want := range map[string]string{
		"https://[2001:db8:1:2:3:4:5:6]:8443": "https://[2001:db8:1:2::]",
		"https://[2001:db8:1:2::]":            "https://[2001:db8:1:2::]",
		"http://[fe80::1]":                    "http://[fe80::]",
		"https://[::1]:8443":                  "https://[::1]",
		"https://[::ffff:c000:201]":           "https://[::ffff:c000:201]",
	} {
		got := Site(origin)
		if got != want {
			t.Errorf("Site(%q) = %q, want %q", origin, got, want)
		}
		// A site is an origin of its own site, so that the config file
		// can keep it as a blocked site.
		if n, err := NormalizeOrigin(got, true); err != nil || Site(n) != n {
			t.Errorf("Site(%q) = %q is not a site: %q, %v", origin, got, n, err)
		}
	}
}
