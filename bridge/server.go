package bridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or once their context is done.
var ErrServerClosed = http.ErrServerClosed

// Server is the protocol v1 WebSocket server that portal pages talk to.
// Create it with New; it is safe for concurrent use.
type Server struct {
	cfg      Config
	limits   Limits
	log      *slog.Logger
	allowed  map[string]bool // pre-consented origins
	devHTTP  map[string]bool // http:// origins allowed to connect
	hosts    map[string]bool // acceptable Host header values
	prompts  *promptQueue
	consents ConsentStore
	upgrader websocket.Upgrader
	hub      *watchHub

	// baseCtx is the parent of every connection's context; Shutdown
	// cancels it so that requests, prompts and the watcher stop.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu          sync.Mutex
	closing     bool
	conns       map[*conn]struct{}
	total       int            // connections open or being upgraded
	perOrigin   map[string]int // same, per origin
	httpServers map[*http.Server]struct{}
	readerLocks map[string]chan struct{}
	deniedUntil map[string]time.Time   // origins the user just denied
	asking      map[string]*consentAsk // open consent dialogs, by origin
	waiting     int                    // handshakes waiting for a consent answer
	connWG      sync.WaitGroup         // connections and consent dialogs
	// cardWG counts card work, which may outlive its request while a card
	// is slow to answer (see withCard).
	cardWG sync.WaitGroup
}

// New checks cfg and returns a Server. It does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Readers == nil {
		return nil, errors.New("bridge: Config.Readers is nil")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("bridge: invalid port %d", cfg.Port)
	}
	if len(cfg.Addrs) == 0 {
		cfg.Addrs = defaultAddrs(cfg.Port)
	}
	if cfg.Prompter == nil {
		cfg.Prompter = DenyPrompter{}
	}
	if cfg.Consents == nil {
		cfg.Consents = &MemoryConsentStore{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "0.0.0-dev"
	}
	s := &Server{
		cfg:         cfg,
		limits:      cfg.Limits.withDefaults(),
		log:         cfg.Logger,
		allowed:     make(map[string]bool),
		devHTTP:     make(map[string]bool),
		hosts:       make(map[string]bool),
		prompts:     newPromptQueue(cfg.Prompter),
		consents:    cfg.Consents,
		conns:       make(map[*conn]struct{}),
		perOrigin:   make(map[string]int),
		httpServers: make(map[*http.Server]struct{}),
		readerLocks: make(map[string]chan struct{}),
		deniedUntil: make(map[string]time.Time),
		asking:      make(map[string]*consentAsk),
	}
	for _, o := range cfg.DevHTTPOrigins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(c, "http://") {
			return nil, fmt.Errorf("bridge: developer origin %q is not an http:// origin", o)
		}
		s.devHTTP[c] = true
	}
	for _, o := range cfg.AllowedOrigins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(c, "http://") && !s.devHTTP[c] {
			return nil, fmt.Errorf("bridge: allowed origin %q is not https (list it as a developer origin too)", o)
		}
		s.allowed[c] = true
	}
	p := strconv.Itoa(cfg.Port)
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		s.hosts[h+":"+p] = true
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		// The Origin was checked by the handshake policy before Upgrade
		// is called; gorilla's same-origin check would refuse every page.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.hub = newWatchHub(s)
	return s, nil
}

// Handler returns the HTTP handler that serves /v1 and /v1/health. It is
// what Serve uses; tests can mount it on an httptest.Server.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// ListenAndServe listens on every configured address that works and serves
// until ctx is done or Shutdown is called; it then returns ErrServerClosed.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lns []net.Listener
	var errs []error
	lc := net.ListenConfig{}
	for _, a := range s.cfg.Addrs {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			// Typically IPv6 disabled on the host; the other family
			// still serves.
			errs = append(errs, err)
			s.log.Warn("cannot listen", "addr", a, "err", err)
			continue
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return fmt.Errorf("bridge: cannot listen on any address: %w", errors.Join(errs...))
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		s.log.Info("listening", "addr", ln.Addr().String())
		go func() { errc <- s.Serve(ctx, ln) }()
	}
	// Serve returns ErrServerClosed when stopped on purpose; any other
	// error on one listener stops the others too.
	var first error
	for range lns {
		err := <-errc
		if first == nil || errors.Is(first, ErrServerClosed) {
			first = err
		}
		if !errors.Is(err, ErrServerClosed) {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Shutdown(sctx)
			cancel()
		}
	}
	return first
}

// Serve accepts connections on ln until ctx is done or Shutdown is called,
// then returns ErrServerClosed. ln is closed on return.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.httpServers[hs] = struct{}{}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
	})
	defer stop()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting connections, closes every open connection with
// close code 1001 (going away), cancels running requests and dialogs, and
// waits for the connections' goroutines, and for card work still waiting
// for a card's answer, to end or ctx to be done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	// Close the consent dialogs first: their handshakes are still HTTP
	// requests, which hs.Shutdown would otherwise wait for.
	for _, a := range s.asking {
		a.cancel()
	}
	servers := make([]*http.Server, 0, len(s.httpServers))
	for hs := range s.httpServers {
		servers = append(servers, hs)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range conns {
		c.goAway()
	}
	s.cancelBase()
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		// No request is left to start card work: the card sessions still
		// open are those of requests answered before their card was done.
		s.cardWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// serveHTTP applies the handshake policy, then upgrades /v1.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// A page on any site can make the browser send requests here, and a
	// DNS-rebinding attack makes one under the attacker's own host name
	// look same-origin. Only the loopback names we listen on are valid.
	if !s.hosts[strings.ToLower(r.Host)] {
		s.log.Warn("refused: bad Host", "host", trimForError(r.Host))
		http.Error(w, "forbidden host", http.StatusForbidden)
		return
	}
	switch r.URL.Path {
	case "/v1/health":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// No CORS header on purpose: pages must not learn whether the
		// daemon runs except through the WebSocket handshake policy.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, `{"ok":true,"protocol":1}`+"\n")
		return
	case "/v1":
	default:
		http.NotFound(w, r)
		return
	}

	origin, herr := s.checkOrigin(r.Header.Values("Origin"))
	if herr != "" {
		s.log.Warn("refused: origin", "origin", trimForError(r.Header.Get("Origin")), "reason", herr)
		http.Error(w, herr, http.StatusForbidden)
		return
	}
	// Malformed handshakes are refused before anyone is asked about them.
	if status, reason := upgradeProblem(r); status != 0 {
		http.Error(w, reason, status)
		return
	}
	grant, ref := s.admit(r.Context(), origin)
	if ref != nil {
		s.log.Warn("refused", "origin", origin, "status", ref.status, "reason", ref.reason)
		if ref.retryAfter {
			w.Header().Set("Retry-After", "5")
		}
		http.Error(w, ref.reason, ref.status)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.unreserve(origin)
		s.log.Info("upgrade failed", "origin", origin, "err", err)
		return
	}
	c := newConn(s, ws, origin, grant)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.unreserve(origin)
		ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(time.Second))
		ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.connWG.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.unreserve(origin)
	}()
}

// upgradeProblem checks what the WebSocket upgrade will check, so that a
// handshake that cannot succeed is refused before a consent dialog is
// shown for it. It returns 0 when the request is a valid upgrade.
func upgradeProblem(r *http.Request) (int, string) {
	if !websocket.IsWebSocketUpgrade(r) {
		return http.StatusBadRequest, "websocket upgrade required"
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, "websocket upgrade must be a GET"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return http.StatusBadRequest, "unsupported websocket version"
	}
	if key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(key) != 16 {
		return http.StatusBadRequest, "invalid Sec-WebSocket-Key"
	}
	return 0, ""
}

// refusal is why a handshake gets no session, as its HTTP answer.
type refusal struct {
	status     int
	reason     string
	retryAfter bool // a limit: the page may try again shortly
}

// Reasons for refusing a handshake after the origin checks.
var (
	refuseDenied  = &refusal{status: http.StatusForbidden, reason: "consent denied"}
	refuseClosing = &refusal{status: http.StatusServiceUnavailable, reason: "server shutting down", retryAfter: true}
	refuseBusy    = &refusal{status: http.StatusTooManyRequests, reason: "too many sites waiting for consent", retryAfter: true}
	// refuseGone answers a page that left while it waited: only the log
	// sees it.
	refuseGone = &refusal{status: http.StatusForbidden, reason: "page left before consent"}
)

// consentGrant is why a connection may use the card.
type consentGrant int

const (
	// grantStanding: the origin is on the allow-list or in the consent
	// store. It lasts as long as the origin stays there, so revoking the
	// origin (in the tray) also ends the connections already open.
	grantStanding consentGrant = iota + 1
	// grantOnce: the user allowed the origin for this connection only.
	grantOnce
)

// admit decides whether a handshake from origin (already checked by
// checkOrigin) gets a session, asking the user when nobody has yet, and
// reserves the connection slot the session will use. On a refusal no
// slot is held. ctx is the handshake request's: when the page goes away,
// the dialog it was waiting for closes.
func (s *Server) admit(ctx context.Context, origin string) (consentGrant, *refusal) {
	if s.preConsented(origin) {
		if reason := s.reserve(origin); reason != "" {
			return 0, &refusal{status: http.StatusServiceUnavailable, reason: reason, retryAfter: true}
		}
		return grantStanding, nil
	}
	if s.recentlyDenied(origin) {
		// Refused moments ago: a page must not be able to bring the
		// dialog back by reconnecting until the user gives in.
		return 0, refuseDenied
	}
	// The slot is taken before the dialog, so that the connection limits
	// also bound how many handshakes can wait for one.
	if reason := s.reserve(origin); reason != "" {
		return 0, &refusal{status: http.StatusServiceUnavailable, reason: reason, retryAfter: true}
	}
	d, err := s.askConsent(ctx, origin)
	switch {
	case err == nil && d == AllowOnce:
		return grantOnce, nil
	case err == nil && d == AllowAlways:
		return grantStanding, nil
	}
	s.unreserve(origin)
	switch {
	case errors.Is(err, errConsentBusy):
		return 0, refuseBusy
	case errors.Is(err, ErrServerClosed), err != nil && s.shuttingDown():
		// Shutdown closed the dialog: the user said nothing.
		return 0, refuseClosing
	}
	if ctx.Err() != nil {
		return 0, refuseGone
	}
	// Denied, dismissed or timed out.
	return 0, refuseDenied
}

// consentAsk is one consent dialog, and the handshakes from its origin
// that wait for its answer. Its fields other than done are guarded by
// Server.mu until done is closed, and read-only after.
type consentAsk struct {
	done     chan struct{} // closed once decision and err are set
	decision ConsentDecision
	err      error
	waiters  int                // handshakes waiting for the answer
	cancel   context.CancelFunc // closes the dialog
}

// errConsentBusy refuses a handshake when too many wait for consent.
var errConsentBusy = errors.New("bridge: too many handshakes waiting for consent")

// askConsent asks the user whether origin may use the card. A handshake
// from an origin whose dialog is already open waits for that dialog's
// answer instead of opening another, so that a page that opens many
// connections at once shows the user one dialog. The dialog closes when
// it times out (Limits.PromptTimeout), the server shuts down, or every
// handshake waiting for it has gone.
func (s *Server) askConsent(ctx context.Context, origin string) (ConsentDecision, error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return Deny, ErrServerClosed
	}
	a := s.asking[origin]
	if a == nil && time.Now().Before(s.deniedUntil[origin]) {
		// Denied between admit's check and now.
		s.mu.Unlock()
		return Deny, nil
	}
	if s.waiting >= s.limits.MaxConsentWaits {
		s.mu.Unlock()
		return Deny, errConsentBusy
	}
	shared := a != nil
	if a == nil {
		dctx, cancel := context.WithTimeout(s.baseCtx, s.limits.PromptTimeout)
		a = &consentAsk{done: make(chan struct{}), cancel: cancel}
		s.asking[origin] = a
		s.connWG.Add(1) // under mu with closing false: before Shutdown's Wait
		go s.runConsent(dctx, origin, a)
	}
	a.waiters++
	s.waiting++
	s.mu.Unlock()
	s.log.Debug("handshake waits for consent", "origin", origin, "sharedDialog", shared)

	select {
	case <-a.done:
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		return a.decision, a.err
	case <-ctx.Done():
		s.mu.Lock()
		s.waiting--
		a.waiters--
		last := a.waiters == 0
		if last {
			// Every page that asked has gone: close the dialog, and let
			// the next handshake from the origin ask afresh.
			a.cancel()
			if s.asking[origin] == a {
				delete(s.asking, origin)
			}
		}
		s.mu.Unlock()
		s.log.Debug("handshake left while waiting for consent", "origin", origin, "dialogClosed", last)
		return Deny, ctx.Err()
	}
}

// runConsent shows the consent dialog of a and records its answer.
func (s *Server) runConsent(ctx context.Context, origin string, a *consentAsk) {
	defer s.connWG.Done()
	defer a.cancel()
	d, err := s.prompts.consent(ctx, ConsentRequest{Origin: origin})
	if err == nil && ctx.Err() != nil {
		// An answer that raced the dialog's closing is no answer: the
		// user did not decide anything about a page that had gone.
		err = ctx.Err()
	}
	if err != nil {
		s.log.Info("consent not given", "origin", origin, "err", err)
	} else {
		if d == AllowAlways {
			if serr := s.consents.Allow(origin); serr != nil {
				// The connections that asked may go on; a standing grant
				// would fail their first request, as the store lacks it.
				s.log.Error("cannot store consent", "origin", origin, "err", serr)
				d = AllowOnce
			}
		}
		s.log.Info("consent", "origin", origin, "decision", d.String())
		s.noteConsent(origin, d)
	}
	s.mu.Lock()
	if s.asking[origin] == a {
		delete(s.asking, origin)
	}
	a.decision, a.err = d, err
	s.mu.Unlock()
	close(a.done)
}

// checkOrigin applies the Origin policy and returns the canonical origin,
// or a reason for refusing the handshake.
func (s *Server) checkOrigin(values []string) (string, string) {
	if len(values) != 1 {
		return "", "missing or repeated Origin"
	}
	if values[0] == "null" {
		return "", "opaque origin"
	}
	o, err := CanonicalOrigin(values[0])
	if err != nil {
		return "", "invalid Origin"
	}
	if strings.HasPrefix(o, "http://") {
		if !s.devHTTP[o] {
			return "", "origin not allowed: pages must be served over https"
		}
		return o, ""
	}
	if s.cfg.OnlyAllowedOrigins && !s.preConsented(o) {
		// Managed installs: unknown origins are not even asked about.
		return "", "origin not allowed"
	}
	return o, ""
}

// preConsented reports whether origin needs no consent dialog.
func (s *Server) preConsented(origin string) bool {
	return s.allowed[origin] || s.consents.Allowed(origin)
}

// reserve counts a connection against the limits before it is upgraded,
// so that a flood of handshakes is refused with a plain 503 instead of
// costing a goroutine pair each.
func (s *Server) reserve(origin string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return "server shutting down"
	case s.total >= s.limits.MaxConns:
		return "too many connections"
	case s.perOrigin[origin] >= s.limits.MaxConnsPerOrigin:
		return "too many connections from this origin"
	}
	s.total++
	s.perOrigin[origin]++
	return ""
}

func (s *Server) unreserve(origin string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.perOrigin[origin]--; s.perOrigin[origin] <= 0 {
		delete(s.perOrigin, origin)
	}
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// recentlyDenied reports whether the user denied origin within the
// cooldown.
func (s *Server) recentlyDenied(origin string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.deniedUntil[origin])
}

// noteConsent records the user's decision for the cooldown.
func (s *Server) noteConsent(origin string, d ConsentDecision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for o, t := range s.deniedUntil {
		if now.After(t) {
			delete(s.deniedUntil, o)
		}
	}
	if d == Deny {
		s.deniedUntil[origin] = now.Add(s.limits.DenyCooldown)
	} else {
		delete(s.deniedUntil, origin)
	}
}

// lockReader serialises card work per reader: requests for one reader run
// one after another, requests for different readers in parallel.
func (s *Server) lockReader(ctx context.Context, name string) (unlock func(), err error) {
	s.mu.Lock()
	l, ok := s.readerLocks[name]
	if !ok {
		l = make(chan struct{}, 1)
		s.readerLocks[name] = l
	}
	s.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
