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
	"golang.org/x/time/rate"

	"github.com/cardbridge/cardbridge/bridge/peeruser"
)

// Server is the protocol v1 WebSocket adapter that portal pages talk to:
// it listens on the loopback interfaces, applies the HTTP handshake
// checks (Host, Origin, the upgrade itself), has the Core admit the page
// before upgrading, and carries the Core's messages in text frames, with
// keepalive pings. Create it with New or NewServer; it is safe for
// concurrent use.
type Server struct {
	core     *Core
	ownCore  bool // New made the core: Shutdown shuts it down too
	addrs    []string
	log      *slog.Logger
	limits   Limits
	hosts    map[string]bool // acceptable Host header values
	upgrader websocket.Upgrader

	// peerCheck tells whether a connection's peer runs as this user.
	peerCheck func(local, remote net.Addr) error
	peerLog   *rate.Limiter // bounds the log lines of refused peers

	mu          sync.Mutex
	closing     bool
	httpServers map[*http.Server]struct{}
	streams     map[*wsStream]struct{} // open sessions
	sessionWG   sync.WaitGroup
}

// New checks cfg and returns a Server over a Core of its own. It does not
// listen yet.
func New(cfg Config) (*Server, error) {
	core, err := NewCore(cfg)
	if err != nil {
		return nil, err
	}
	s, err := NewServer(core, cfg.Port, cfg.Addrs)
	if err != nil {
		return nil, err
	}
	s.ownCore = true
	return s, nil
}

// NewServer returns a WebSocket Server over core: port is the port the
// Host header must name (default DefaultPort), addrs the addresses
// ListenAndServe listens on (default 127.0.0.1 and [::1] on port). The
// Server's Shutdown leaves core running.
func NewServer(core *Core, port int, addrs []string) (*Server, error) {
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("bridge: invalid port %d", port)
	}
	if len(addrs) == 0 {
		addrs = defaultAddrs(port)
	}
	s := &Server{
		core:        core,
		addrs:       addrs,
		log:         core.log,
		limits:      core.limits,
		hosts:       make(map[string]bool),
		httpServers: make(map[*http.Server]struct{}),
		streams:     make(map[*wsStream]struct{}),
		peerCheck:   peeruser.Check,
		peerLog:     rate.NewLimiter(rate.Every(10*time.Second), 5),
	}
	p := strconv.Itoa(port)
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
	return s, nil
}

// Core returns the protocol core the Server serves sessions from; other
// transports can share it, with its consent store, dialog queue and
// reader locks.
func (s *Server) Core() *Core { return s.core }

// Handler returns the HTTP handler that serves /v1 and /v1/health. It is
// what Serve uses; tests can mount it on an httptest.Server.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// ErrPortInUse is returned by ListenAndServe when another program holds
// one of its addresses: pages would talk to that program instead.
var ErrPortInUse = errors.New("bridge: another program holds the port")

// ListenAndServe listens on every configured address and serves until ctx
// is done or Shutdown is called; it then returns ErrServerClosed. It
// refuses to serve when any address is taken (an error wrapping
// ErrPortInUse): a squatter on 127.0.0.1 or [::1] would get the pages of
// the family it holds. Only an IPv6 address on a machine without IPv6 is
// skipped.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	lc := net.ListenConfig{}
	for _, a := range s.addrs {
		ln, err := lc.Listen(ctx, "tcp", a)
		switch {
		case err == nil:
			lns = append(lns, ln)
		case isIPv6(a) && ipv6Unavailable(err):
			s.log.Warn("IPv6 not available; serving IPv4 only", "addr", a, "err", err)
		case addrInUse(err):
			closeAll()
			return fmt.Errorf("%w: %s is taken: %w", ErrPortInUse, a, err)
		default:
			closeAll()
			return fmt.Errorf("bridge: cannot listen on %s: %w", a, err)
		}
	}
	if len(lns) == 0 {
		return errors.New("bridge: no address to listen on")
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
// close code 1001 (going away) and, when the Server made its own Core
// (New), shuts the core down too: running requests and dialogs are
// cancelled, and Shutdown waits for the sessions, and for card work still
// waiting for a card's answer, to end or ctx to be done.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ownCore {
		// Close the consent dialogs first: their handshakes are still
		// HTTP requests, which hs.Shutdown would otherwise wait for.
		s.core.beginShutdown()
	}
	s.mu.Lock()
	s.closing = true
	servers := make([]*http.Server, 0, len(s.httpServers))
	for hs := range s.httpServers {
		servers = append(servers, hs)
	}
	streams := make([]*wsStream, 0, len(s.streams))
	for st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()

	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, st := range streams {
		st.Close(CloseGoingAway)
	}
	if s.ownCore {
		if err := s.core.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() {
		s.sessionWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if len(errs) == 0 {
			errs = append(errs, ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// isIPv6 reports whether the host:port address a is an IPv6 one.
func isIPv6(a string) bool {
	host, _, err := net.SplitHostPort(a)
	return err == nil && strings.Contains(host, ":")
}

// serveHTTP applies the handshake policy, has the core admit the page,
// then upgrades /v1.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Any local program can connect to the loopback and send any Origin:
	// only this user's own programs (the browser among them) are served.
	// Another user on the machine gets nothing, not even the health
	// answer.
	if err := s.checkPeer(r); err != nil {
		if s.peerLog.Allow() {
			s.log.Warn("refused: connection from another OS user", "remote", r.RemoteAddr, "err", err)
		}
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	// A page on any site can make the browser send requests here, and a
	// DNS-rebinding attack makes one under the attacker's own host name
	// look same-origin. Only the loopback names we listen on are valid.
	if !s.hosts[strings.ToLower(r.Host)] {
		s.core.refusalLog.Warn("refused: bad Host", "host", trimForError(r.Host))
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

	origin, err := s.checkOrigin(r.Header.Values("Origin"))
	if err != nil {
		s.core.refusalLog.Warn("refused: origin", "origin", trimForError(r.Header.Get("Origin")), "reason", refusalReason(err))
		http.Error(w, refusalReason(err), http.StatusForbidden)
		return
	}
	// Malformed handshakes are refused before anyone is asked about them.
	if status, reason := upgradeProblem(r); status != 0 {
		http.Error(w, reason, status)
		return
	}
	adm, err := s.core.Admit(r.Context(), Session{Origin: origin, Transport: "websocket"})
	if err != nil {
		status := refusalStatus(err)
		s.core.refusalLog.Warn("refused", "origin", origin, "status", status, "reason", refusalReason(err))
		var ref *RefusedError
		if errors.As(err, &ref) && ref.Retry {
			w.Header().Set("Retry-After", "5")
		}
		http.Error(w, refusalReason(err), status)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		adm.Release()
		s.log.Info("upgrade failed", "origin", origin, "err", err)
		return
	}
	st := newWSStream(ws, s.limits)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		adm.Release()
		st.Close(CloseGoingAway)
		return
	}
	s.streams[st] = struct{}{}
	s.sessionWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.sessionWG.Done()
		done := make(chan struct{})
		go st.keepalive(done)
		// The core's own context ends the session on its shutdown.
		s.core.Serve(context.Background(), adm, st)
		close(done)
		st.Close(CloseNormal)
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
	}()
}

// checkOrigin applies the Origin header rules, then the core's origin
// policy, and returns the canonical origin.
func (s *Server) checkOrigin(values []string) (string, error) {
	if len(values) != 1 {
		return "", refuseOrigin("missing or repeated Origin")
	}
	return s.core.CheckOrigin(values[0])
}

// checkPeer checks the request's connection with peerCheck.
func (s *Server) checkPeer(r *http.Request) error {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	remote, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil || local == nil {
		return fmt.Errorf("%w: no connection addresses", peeruser.ErrUnknown)
	}
	return s.peerCheck(local, remote)
}

// refusalStatus is the HTTP status of a refused handshake.
func refusalStatus(err error) int {
	var ref *RefusedError
	if !errors.As(err, &ref) {
		return http.StatusForbidden
	}
	switch ref.Code {
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeBusy:
		return http.StatusServiceUnavailable
	}
	return http.StatusForbidden
}

func refusalReason(err error) string {
	var ref *RefusedError
	if errors.As(err, &ref) {
		return ref.Reason
	}
	return "forbidden"
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

// wsStream is a session's WebSocket: one text frame per message.
type wsStream struct {
	ws       *websocket.Conn
	limits   Limits
	pongWait time.Duration
}

func newWSStream(ws *websocket.Conn, l Limits) *wsStream {
	st := &wsStream{ws: ws, limits: l, pongWait: 2*l.PingInterval + l.WriteTimeout}
	ws.SetReadDeadline(time.Now().Add(st.pongWait))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(st.pongWait))
	})
	// ReadMessage's own limit lets the core answer MESSAGE_TOO_LARGE
	// before closing; this one is a backstop in case a message slips past
	// it.
	ws.SetReadLimit(l.MaxMessageBytes + 1024)
	return st
}

// ReadMessage reads the next data frame.
func (st *wsStream) ReadMessage(max int64) ([]byte, error) {
	typ, r, err := st.ws.NextReader()
	if err != nil {
		return nil, err
	}
	st.ws.SetReadDeadline(time.Now().Add(st.pongWait))
	// Read one byte more than allowed to tell "at the limit" from "over
	// it" without buffering an oversized message.
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrMessageTooLarge, max)
	}
	if typ != websocket.TextMessage {
		return nil, newError(CodeBadRequest, "binary frames are not supported")
	}
	return data, nil
}

// WriteMessage writes a text frame; a page that does not read within the
// write timeout loses its connection.
func (st *wsStream) WriteMessage(b []byte) error {
	st.ws.SetWriteDeadline(time.Now().Add(st.limits.WriteTimeout))
	return st.ws.WriteMessage(websocket.TextMessage, b)
}

// Close sends the close frame that fits reason, then closes the socket.
// Gorilla allows WriteControl concurrently with the writing of data
// frames.
func (st *wsStream) Close(reason CloseReason) error {
	switch reason {
	case CloseTooLarge:
		st.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "message too large"),
			time.Now().Add(st.limits.WriteTimeout))
	case CloseGoingAway:
		st.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(time.Second))
	}
	return st.ws.Close()
}

// keepalive pings the page until done is closed; a page that stops
// answering (ReadMessage's deadline) or a ping that cannot be written
// ends the session.
func (st *wsStream) keepalive(done <-chan struct{}) {
	ping := time.NewTicker(st.limits.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ping.C:
			if err := st.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(st.limits.WriteTimeout)); err != nil {
				if !errors.Is(err, websocket.ErrCloseSent) {
					st.ws.Close()
				}
				return
			}
		case <-done:
			return
		}
	}
}
