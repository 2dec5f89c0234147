// Package portal is the server side of the demo "Smart-ID registration"
// portal: it serves the pages in web/demo, issues Web eID challenge nonces,
// validates the authentication token the page gets from the cardbridge
// daemon, and accepts an application form signed with the eID card.
//
// It is a demo, but an honest one: every check a real portal needs is done
// on the server (token signature over the portal's own origin, nonce
// freshness and single use, certificate chain to a trusted root, signature
// of the canonical application by the same person who logged in). What it
// leaves out is persistence: sessions and applications live in memory.
package portal

import (
	"crypto"
	"crypto/x509"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/web"
	"github.com/cardbridge/cardbridge/webeid"
)

// DefaultBridgeURL is where pages look for the daemon unless configured.
const DefaultBridgeURL = "ws://127.0.0.1:27183/v1"

// DocumentName is what the daemon's confirmation dialog shows for the
// application signature.
const DocumentName = "Smart-ID account application"

// Config configures a Portal.
type Config struct {
	// Validator checks authentication tokens, signing certificates and
	// signatures. Its Origin is the portal's public origin. Required.
	Validator *webeid.Validator
	// Static holds cardbridge.js and demo/ (index.html, app.js,
	// style.css); nil means the copy embedded in the binary (web.Files).
	Static fs.FS
	// BridgeURL is the daemon endpoint given to the page; it is also the
	// only WebSocket target the Content-Security-Policy allows.
	BridgeURL string
	// Insecure marks a plain-http development setup: cookies lose the
	// Secure flag and the __Host- prefix.
	Insecure bool
	// Logger receives one line per login and submission; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionTTL is the idle lifetime of a session; zero means 30 minutes.
	SessionTTL time.Duration
	// MaxSessions bounds the session table; zero means 10000.
	MaxSessions int
	// RegistrationCodeTTL is how long a registration code stays valid;
	// zero means DefaultCodeTTL (15 minutes, as in the guide).
	RegistrationCodeTTL time.Duration
}

// Person is who a session belongs to, as read from the authentication
// certificate (not from anything the page claims).
type Person struct {
	GivenName      string `json:"givenName"`
	Surname        string `json:"surname"`
	NationalNumber string `json:"nationalNumber"`
}

// Login records a successful authentication.
type Login struct {
	Person      Person
	Certificate *x509.Certificate
	Algorithm   string
	At          time.Time
}

// Application is the form the user submits.
type Application struct {
	GivenName      string `json:"givenName"`
	Surname        string `json:"surname"`
	NationalNumber string `json:"nationalNumber"`
	DocumentNumber string `json:"documentNumber"`
	Country        string `json:"country"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
}

// Submission records an application whose signature was verified.
type Submission struct {
	ID          string
	Reference   string
	Application Application
	Document    []byte // the canonical JSON that was signed (its digest)
	Hash        crypto.Hash
	Digest      []byte
	Signature   []byte
	Certificate *x509.Certificate
	At          time.Time
}

// Portal serves the demo. It is safe for concurrent use.
type Portal struct {
	v         *webeid.Validator
	static    fs.FS
	bridgeURL string
	insecure  bool
	log       *slog.Logger
	now       func() time.Time
	ttl       time.Duration
	codeTTL   time.Duration
	csp       string

	sessions *sessionStore

	mu          sync.Mutex
	logins      []Login
	submissions []Submission
}

// New checks cfg and returns a Portal.
func New(cfg Config) (*Portal, error) {
	if cfg.Validator == nil {
		return nil, errors.New("portal: Config.Validator is required")
	}
	p := &Portal{
		v:         cfg.Validator,
		static:    cfg.Static,
		bridgeURL: cfg.BridgeURL,
		insecure:  cfg.Insecure,
		log:       cfg.Logger,
		now:       cfg.Now,
		ttl:       cfg.SessionTTL,
		codeTTL:   cfg.RegistrationCodeTTL,
	}
	if p.static == nil {
		p.static = web.Files
	}
	if p.bridgeURL == "" {
		p.bridgeURL = DefaultBridgeURL
	}
	u, err := url.Parse(p.bridgeURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, errors.New("portal: BridgeURL must be a ws:// or wss:// URL")
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.ttl <= 0 {
		p.ttl = 30 * time.Minute
	}
	if p.codeTTL <= 0 {
		p.codeTTL = DefaultCodeTTL
	}
	max := cfg.MaxSessions
	if max <= 0 {
		max = 10_000
	}
	p.sessions = newSessionStore(max, p.now, p.ttl)
	p.csp = contentSecurityPolicy(u)
	return p, nil
}

// contentSecurityPolicy allows the page its own scripts and styles and one
// other target: the daemon, over WebSocket, plus its /v1/health over http
// (the client probes it to tell "not running" from "refused"). An injected
// script could not even talk to another local port.
func contentSecurityPolicy(bridge *url.URL) string {
	httpScheme := "http"
	if bridge.Scheme == "wss" {
		httpScheme = "https"
	}
	hosts := []string{bridge.Host}
	// The loopback spellings of the same port are the same daemon; the
	// client may be pointed at either. CSP has no syntax for IPv6
	// literals, so [::1] cannot be listed (and needs no listing when the
	// page uses 127.0.0.1 or localhost).
	if port := bridge.Port(); port != "" && isLoopback(bridge.Hostname()) {
		for _, h := range []string{"127.0.0.1:" + port, "localhost:" + port} {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	var src []string
	for _, h := range hosts {
		if strings.HasPrefix(h, "[") {
			continue
		}
		src = append(src, bridge.Scheme+"://"+h, httpScheme+"://"+h)
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self' " + strings.Join(src, " ") + "; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

func isLoopback(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// Logins returns the successful logins so far (for tests and the e2e run).
func (p *Portal) Logins() []Login {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.logins)
}

// Submissions returns the verified applications so far.
func (p *Portal) Submissions() []Submission {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.submissions)
}

// Handler returns the portal's HTTP handler.
func (p *Portal) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.servePage("demo/index.html"))
	mux.HandleFunc("GET /phone", p.servePage("demo/phone.html"))
	static := http.StripPrefix("/static/", http.FileServerFS(p.static))
	mux.Handle("GET /static/cardbridge.js", static)
	mux.Handle("GET /static/cardbridge.d.ts", static)
	mux.Handle("GET /static/demo/", static)
	mux.HandleFunc("GET /api/config", p.handleConfig)
	mux.HandleFunc("GET /api/session", p.handleSession)
	mux.HandleFunc("POST /api/nonce", p.api(p.handleNonce))
	mux.HandleFunc("POST /api/login", p.api(p.handleLogin))
	mux.HandleFunc("POST /api/logout", p.api(p.handleLogout))
	mux.HandleFunc("POST /api/phone", p.api(p.handlePhone))
	mux.HandleFunc("POST /api/registration", p.api(p.handleRegistration))
	mux.HandleFunc("POST /api/application", p.api(p.handleApplication))
	mux.HandleFunc("POST /api/application/{id}/signature", p.api(p.handleSignature))
	return p.secure(mux)
}

// secure adds the headers every response carries.
func (p *Portal) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", p.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !p.insecure {
			h.Set("Strict-Transport-Security", "max-age=300")
		}
		next.ServeHTTP(w, r)
	})
}

// servePage serves one HTML page of the demo.
func (p *Portal) servePage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(p.static, name)
		if err != nil {
			http.Error(w, name+" missing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	}
}
