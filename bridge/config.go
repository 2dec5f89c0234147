package bridge

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the TCP port of protocol v1.
const DefaultPort = 27183

// ProtocolVersion is the protocol version this package speaks.
const ProtocolVersion = 1

// Config configures a Server. Only Readers is required.
type Config struct {
	// Addrs are the host:port addresses ListenAndServe listens on. The
	// default is 127.0.0.1 and [::1] on Port. Every address that can be
	// listened on is used; ListenAndServe fails only when none can.
	Addrs []string
	// Port is the port the Host header must name (default DefaultPort).
	Port int
	// AllowedOrigins are origins the user need not be asked about, such
	// as the portal an administrator deployed the daemon for.
	AllowedOrigins []string
	// OnlyAllowedOrigins refuses the handshake of any origin that is
	// neither in AllowedOrigins nor in Consents, without asking the user.
	// By default the handshake of an unknown https origin waits while the
	// user is asked (Prompter.Consent), and gets a session only if the
	// user allows it.
	OnlyAllowedOrigins bool
	// DevHTTPOrigins are plain http:// origins that may connect, for
	// developing a portal locally. Never set it in production.
	DevHTTPOrigins []string
	// Readers is the card reader layer.
	Readers Readers
	// Prompter shows the user's dialogs. Nil means DenyPrompter: nothing
	// is ever approved without a user.
	Prompter Prompter
	// Language is the user's language ("nl", "fr", "de" or "en"), in which
	// a pinpad reader with a display shows its own prompts. Empty means
	// English.
	Language string
	// Consents stores the origins the user allowed for good. Nil means a
	// fresh MemoryConsentStore.
	Consents ConsentStore
	// Refusals keeps the cooldowns and back-offs that follow the user's
	// refusals. Nil means a fresh MemoryRefusalStore; processes that
	// serve the same user share one store (a file), so that a page
	// cannot escape a refusal by having its next session served by a
	// new process.
	Refusals RefusalStore
	// Activity, when not nil, is told what each site did with the card
	// (the tray's activity list).
	Activity ActivityRecorder
	// Logger receives one line per connection and request. Nil discards.
	Logger *slog.Logger
	// Limits bound what one page can make the server do; zero fields
	// take the defaults documented on Limits.
	Limits Limits
	// Version is the daemon version reported by "version" and the hello
	// event (default "0.0.0-dev").
	Version string
}

// Limits bound the resources a page can use. Zero fields take defaults.
type Limits struct {
	MaxMessageBytes   int64         // largest incoming message (64 KiB)
	MaxConns          int           // open connections in all (32)
	MaxConnsPerOrigin int           // open connections per origin (8)
	RatePerSecond     float64       // requests per second per connection (20)
	RateBurst         int           // request burst per connection (40)
	MaxPending        int           // unanswered requests per connection (8)
	RequestTimeout    time.Duration // methods without a dialog (30 s)
	PromptTimeout     time.Duration // methods that show a dialog, and the consent dialog of a handshake (120 s)
	WriteTimeout      time.Duration // one frame write (10 s)
	PingInterval      time.Duration // keepalive pings (30 s); a pong is due within twice that
	// DenyCooldown is how long the handshakes of a site (config.Site:
	// the scheme and registrable domain) the user denied are refused
	// without a dialog (30 s), so that a page cannot reconnect in a
	// loop, or from one subdomain after another, until the user gives in.
	DenyCooldown time.Duration
	// AbandonCooldown is the same for a site whose pages all left a
	// consent dialog before the user answered it (5 s): dropping the
	// handshake must not bring a fresh dialog back at once.
	AbandonCooldown time.Duration
	// DenyBurst denials within DenyWindow, whatever the sites, pause
	// every consent dialog for GlobalCooldown (3 in 2 min: 60 s).
	DenyBurst      int
	DenyWindow     time.Duration
	GlobalCooldown time.Duration
	// MaxConsentWaitsPerSite bounds the handshakes of one site waiting
	// for consent (2), so that one site cannot fill MaxConsentWaits.
	MaxConsentWaitsPerSite int
	// AllowOnceTTL bounds a session the user allowed once (10 min). Such
	// a session is also bound to the card in the reader when it was
	// allowed (or the first one inserted after, when none was): it ends
	// when that card leaves.
	AllowOnceTTL time.Duration
	// RefusalBackoff is the pause after a PIN, last-try or signature
	// dialog ended without a yes, before the origin may show another
	// (2 s); it doubles with each refusal in a row, up to
	// MaxRefusalBackoff (5 min). After BlockOfferAfter refusals in a row
	// (3) the dialog offers to block the site.
	RefusalBackoff    time.Duration
	MaxRefusalBackoff time.Duration
	BlockOfferAfter   int
	// MaxConsentWaits bounds the handshakes, all origins together, that
	// wait for the user's answer to a consent dialog (4). Each origin has
	// one dialog at a time, which all its handshakes share; beyond the
	// bound a handshake is refused with 429 instead of queueing another
	// origin's dialog behind the user's back.
	MaxConsentWaits int
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 64 << 10
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 32
	}
	if l.MaxConnsPerOrigin <= 0 {
		l.MaxConnsPerOrigin = 8
	}
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = 20
	}
	if l.RateBurst <= 0 {
		l.RateBurst = 40
	}
	if l.MaxPending <= 0 {
		l.MaxPending = 8
	}
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = 30 * time.Second
	}
	if l.PromptTimeout <= 0 {
		l.PromptTimeout = 120 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 10 * time.Second
	}
	if l.PingInterval <= 0 {
		l.PingInterval = 30 * time.Second
	}
	if l.DenyCooldown <= 0 {
		l.DenyCooldown = 30 * time.Second
	}
	if l.MaxConsentWaits <= 0 {
		l.MaxConsentWaits = 4
	}
	if l.AbandonCooldown <= 0 {
		l.AbandonCooldown = 5 * time.Second
	}
	if l.DenyBurst <= 0 {
		l.DenyBurst = 3
	}
	if l.DenyWindow <= 0 {
		l.DenyWindow = 2 * time.Minute
	}
	if l.GlobalCooldown <= 0 {
		l.GlobalCooldown = time.Minute
	}
	if l.MaxConsentWaitsPerSite <= 0 {
		l.MaxConsentWaitsPerSite = 2
	}
	if l.AllowOnceTTL <= 0 {
		l.AllowOnceTTL = 10 * time.Minute
	}
	if l.RefusalBackoff <= 0 {
		l.RefusalBackoff = 2 * time.Second
	}
	if l.MaxRefusalBackoff <= 0 {
		l.MaxRefusalBackoff = 5 * time.Minute
	}
	if l.BlockOfferAfter <= 0 {
		l.BlockOfferAfter = 3
	}
	return l
}

// CanonicalOrigin returns the ASCII serialisation of a web origin as
// browsers send it in the Origin header ("https://host[:port]", lower case,
// no default port), or an error when s is not an http or https origin.
// Paths, queries, fragments and credentials are refused rather than
// stripped: a browser never sends them, so their presence means a forged
// or mistyped value.
func CanonicalOrigin(s string) (string, error) {
	if s == "" || len(s) > 2048 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("bridge: invalid origin %q", trimForError(s))
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("bridge: invalid origin %q: %w", trimForError(s), err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "https" && scheme != "http") || u.Opaque != "" || u.User != nil || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("bridge: invalid origin %q", trimForError(s))
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(host, ".") {
		return "", fmt.Errorf("bridge: invalid origin %q", trimForError(s))
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("bridge: invalid origin %q: bad port", trimForError(s))
		}
		port = strconv.Itoa(n)
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

func trimForError(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// defaultAddrs are the loopback addresses of both IP families.
func defaultAddrs(port int) []string {
	p := strconv.Itoa(port)
	return []string{net.JoinHostPort("127.0.0.1", p), net.JoinHostPort("::1", p)}
}
