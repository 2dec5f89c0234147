package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// NormalizeOrigin returns the canonical serialisation of a web origin:
// lowercase scheme and host, no default port, no path, query, fragment or
// user info. Only https origins are accepted unless allowHTTP is set
// (developer mode). Hosts must already be ASCII, as browsers send them
// (IDNs as punycode "xn--" labels): a Unicode host is refused rather than
// converted, so that the stored and displayed form is exactly what the
// browser sent.
func NormalizeOrigin(s string, allowHTTP bool) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrBadOrigin, truncate(s, 80), why)
	}
	if s == "" || len(s) > 2048 {
		return bad("empty or too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return bad("control, space or non-ASCII character")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("unparsable")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
	case scheme == "http" && allowHTTP:
	default:
		return bad("scheme must be https")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery ||
		(u.Path != "" && u.Path != "/") {
		return bad("an origin has no path, query, fragment or user info")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return bad("no host")
	}
	if strings.Contains(host, ":") { // IPv6 literal
		if net.ParseIP(host) == nil {
			return bad("bad IPv6 address")
		}
		host = "[" + host + "]"
	} else {
		for _, label := range strings.Split(host, ".") {
			if !validLabel(label) {
				return bad("bad host name")
			}
		}
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("bad port")
		}
		if !(scheme == "https" && n == 443) && !(scheme == "http" && n == 80) {
			host += ":" + strconv.Itoa(n)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("empty port")
	}
	return scheme + "://" + host, nil
}

// validLabel accepts LDH labels (letters, digits, hyphen; 1..63) plus
// underscore, which appears in real-world host names.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RegistrableDomain returns the part of host that one owner registered:
// the public suffix (from the Public Suffix List, through
// golang.org/x/net/publicsuffix) and the one label before it, as in
// "smart-id.com" for "registration.smart-id.com" or "b.co.uk" for
// "a.b.co.uk". An IP address, a single-label name such as localhost and
// a public suffix itself are returned whole: nothing in them is shared
// with another owner. Host names are compared in lower case.
func RegistrableDomain(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if strings.HasPrefix(host, "[") || net.ParseIP(host) != nil {
		return host
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return d
}

// Site returns the schemeful site of a canonical origin (as returned by
// NormalizeOrigin): its scheme and registrable domain, without the port,
// such as "https://smart-id.com" for "https://registration.smart-id.com".
// Every origin of one site belongs to one owner, who can make as many of
// them as they like: limits that must hold against a hostile page are
// kept per site, not per origin. An IPv4 address is a site of its own,
// but an IPv6 address stands for its /64 network, written as the
// network's first address ("https://[2001:db8:1:2::]"): a /64 is the
// smallest block one subscriber gets, so its owner has more addresses
// than anyone could count. The loopback address ::1 and IPv4 addresses
// written as IPv6 (::ffff:192.0.2.1) stay whole. A site is its own site,
// and an origin (NormalizeOrigin accepts it). A string that is not an
// origin is returned unchanged.
func Site(origin string) string {
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok {
		return origin
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if ip == nil || ip.To4() != nil || ip.IsLoopback() {
		if ip != nil && strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			host = "[" + host + "]"
		}
		return scheme + "://" + RegistrableDomain(host)
	}
	return scheme + "://[" + ip.Mask(net.CIDRMask(64, 128)).String() + "]"
}
