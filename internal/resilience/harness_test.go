package resilience

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
	"github.com/cardbridge/cardbridge/internal/rig"
	"github.com/cardbridge/cardbridge/pcsc/vpcd"
)

const (
	testOrigin = "https://portal.example"
	testPIN    = "1234"
	// wait bounds every wait of the tests for something the daemon or
	// pcscd should do by itself.
	wait = 15 * time.Second
)

// stack is the daemon under test, serving on 127.0.0.1 with the PC/SC
// readers adapter, and a simulated card in the virtual reader.
type stack struct {
	t        *testing.T
	card     *sim.Card
	fc       *faultCard
	slot     *rig.Slot
	swapped  *vpcd.Insertion // another card a test put in the slot
	prompter *hookPrompter
	srv      *bridge.Server
	url      string
	origins  []string
	log      *logBuffer
	serveErr chan error
	// closeReaders closes the daemon's PC/SC readers.
	closeReaders func()
}

type stackOptions struct {
	profile sim.Profile
	// latency delays every APDU at the card, to make operations last
	// long enough to interrupt them.
	latency time.Duration
	limits  bridge.Limits
	// origins are the pre-allowed origins (default testOrigin).
	origins []string
	// deferStart leaves starting the daemon to the test (stack.start).
	deferStart bool
}

// newStack inserts a fresh simulated card and starts a daemon. Everything
// is torn down when the test ends.
func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	rig.Require(t)
	if opts.profile == 0 {
		opts.profile = sim.ProfileECC
	}
	card, err := sim.New(sim.Options{Profile: opts.profile, PIN: testPIN})
	if err != nil {
		t.Fatal(err)
	}
	fc := &faultCard{Card: card, latency: opts.latency}
	slot := rig.Insert(t, fc)
	s := &stack{t: t, card: card, fc: fc, slot: slot, prompter: &hookPrompter{}, log: &logBuffer{}}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("RESILIENCE_LOG") != "" {
			t.Logf("daemon log:\n%s", s.log)
		}
	})
	s.origins = opts.origins
	if len(s.origins) == 0 {
		s.origins = []string{testOrigin}
	}
	if !opts.deferStart {
		s.start(opts.limits)
	}
	return s
}

// start runs a daemon on a fresh loopback port.
func (s *stack) start(limits bridge.Limits) {
	t := s.t
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	readers := pcscreaders.New()
	if _, err := readers.List(ctx); err != nil {
		t.Fatalf("PC/SC readers: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv, err := bridge.New(bridge.Config{
		Addrs:          []string{ln.Addr().String()},
		Port:           port,
		AllowedOrigins: s.origins,
		Readers:        readers,
		Prompter:       s.prompter,
		Logger:         slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limits:         limits,
		Version:        "0.0.0-resilience",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	s.url = "ws://127.0.0.1:" + strconv.Itoa(port) + "/v1"
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- srv.Serve(context.Background(), ln) }()
	s.closeReaders = func() {
		if err := readers.Close(); err != nil {
			t.Errorf("closing the PC/SC readers: %v", err)
		}
	}
	t.Cleanup(s.stop)
}

// stop shuts the daemon down and closes its PC/SC readers. It may be
// called more than once.
func (s *stack) stop() {
	s.t.Helper()
	s.shutdown()
	if s.closeReaders != nil {
		s.closeReaders()
		s.closeReaders = nil
	}
}

// shutdown stops the daemon and checks that it stopped cleanly. It may be
// called more than once.
func (s *stack) shutdown() {
	s.t.Helper()
	if s.serveErr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-s.serveErr:
		if !errors.Is(err, bridge.ErrServerClosed) {
			s.t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-ctx.Done():
		s.t.Errorf("Serve did not return after Shutdown")
	}
	s.serveErr = nil
}

// reinsert puts a card that pulled itself (sim PullAfter) back and waits
// until pcscd reports it present.
func (s *stack) reinsert() {
	s.t.Helper()
	s.card.Reinsert()
	s.slot.Reinsert()
}

// checkServing opens a fresh connection and reads the reader list and the
// identity: the daemon recovered by itself.
func (s *stack) checkServing() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c := s.dial(s.origins[0])
	defer c.close()
	var rl readersResult
	if err := c.callInto(ctx, "readers", nil, &rl); err != nil {
		s.t.Fatalf("daemon not serving: readers: %v", err)
	}
	if !rl.hasCard(rig.Reader) {
		s.t.Fatalf("daemon not serving: readers = %+v, want a card in %s", rl, rig.Reader)
	}
	var id identityResult
	if err := c.callInto(ctx, "identity", nil, &id); err != nil {
		s.t.Fatalf("daemon not serving: identity: %v", err)
	}
	if want := s.card.Person().Identity.NationalNumber; id.Identity.NationalNumber != want || !id.Integrity.Valid {
		s.t.Fatalf("daemon not serving: identity %+v, want national number %s with valid integrity", id, want)
	}
}

// checkTries fails the test unless the card has want PIN tries left.
func (s *stack) checkTries(want int) {
	s.t.Helper()
	if got := s.card.TriesLeft(); got != want {
		s.t.Errorf("PIN tries left = %d, want %d: a try was spent that the user did not spend", got, want)
	}
}

// faultCard is the simulated card as the tests insert it: it can be made
// slow, and made to fail at a chosen command.
type faultCard struct {
	*sim.Card
	latency time.Duration

	mu     sync.Mutex
	trap   func(cmd []byte) bool // one-shot
	action func()
}

// at arranges for action to run when the first command satisfying trap
// arrives, before the card sees it.
func (c *faultCard) at(trap func(cmd []byte) bool, action func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trap, c.action = trap, action
}

// pullAt pulls the card when the first command satisfying trap arrives:
// that command and all later ones fail, and the reader sees the card gone.
func (c *faultCard) pullAt(trap func(cmd []byte) bool) { c.at(trap, c.Card.Pull) }

func (c *faultCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if c.latency > 0 {
		time.Sleep(c.latency)
	}
	c.mu.Lock()
	var act func()
	if c.trap != nil && c.trap(cmd) {
		act = c.action
		c.trap, c.action = nil, nil
	}
	c.mu.Unlock()
	if act != nil {
		act()
	}
	return c.Card.Transmit(ctx, cmd)
}

// Instruction bytes the traps look for.
const (
	insVerify      = 0x20
	insPSO         = 0x2A
	insReadBinary  = 0xB0
	insGetCardData = 0xE4
)

// nth matches the n-th command (from 1) with instruction ins, counting
// from when the trap is set. With withData, only commands that carry data
// count (a VERIFY with data presents a PIN; without, it asks for the tries
// left).
func nth(ins byte, n int, withData bool) func([]byte) bool {
	seen := 0
	return func(cmd []byte) bool {
		if len(cmd) < 4 || cmd[1] != ins || (withData && len(cmd) <= 5) {
			return false
		}
		seen++
		return seen == n
	}
}

// hookPrompter is a scripted prompter whose dialogs can run a hook as they
// open, synchronously, before the scripted answer: tests use it to act at
// the exact moment a dialog is on screen.
type hookPrompter struct {
	bridgetest.Prompter
	mu     sync.Mutex
	onOpen map[bridgetest.Kind]func(context.Context)
}

// on sets the hook for dialogs of kind k (nil removes it).
func (p *hookPrompter) on(k bridgetest.Kind, f func(context.Context)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.onOpen == nil {
		p.onOpen = make(map[bridgetest.Kind]func(context.Context))
	}
	p.onOpen[k] = f
}

func (p *hookPrompter) hook(ctx context.Context, k bridgetest.Kind) {
	p.mu.Lock()
	f := p.onOpen[k]
	p.mu.Unlock()
	if f != nil {
		f(ctx)
	}
}

func (p *hookPrompter) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	p.hook(ctx, bridgetest.Consent)
	return p.Prompter.Consent(ctx, req)
}

func (p *hookPrompter) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	p.hook(ctx, bridgetest.PIN)
	return p.Prompter.PIN(ctx, req)
}

func (p *hookPrompter) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	p.hook(ctx, bridgetest.ConfirmSignature)
	return p.Prompter.ConfirmSignature(ctx, req)
}

func (p *hookPrompter) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	p.hook(ctx, bridgetest.ConfirmLastTry)
	return p.Prompter.ConfirmLastTry(ctx, req)
}

// logBuffer collects the daemon's log for failure reports.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) < 1<<20 {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// frame is any message from the daemon.
type frame struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
}

// wireError is a protocol error as the page receives it.
type wireError struct {
	Code    bridge.Code    `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

func (e *wireError) Error() string { return fmt.Sprintf("%s: %s %v", e.Code, e.Message, e.Data) }

// codeOf returns the protocol error code in err, or "" if err is not a
// protocol error.
func codeOf(err error) bridge.Code {
	var we *wireError
	if errors.As(err, &we) {
		return we.Code
	}
	return ""
}

// client is a page's WebSocket connection to the daemon.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	nextID atomic.Int64
	events chan frame
	done   chan struct{} // closed when the read loop ends

	mu      sync.Mutex
	waiters map[string]chan frame
	readErr error
}

// dial connects as a page of origin, and waits for the hello event.
func (s *stack) dial(origin string) *client {
	s.t.Helper()
	c, err := dialURL(s.url, origin)
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	c.t = s.t
	return c
}

func dialURL(url, origin string) (*client, error) {
	d := websocket.Dialer{HandshakeTimeout: wait}
	ws, resp, err := d.Dial(url, http.Header{"Origin": {origin}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	c := &client{ws: ws, events: make(chan frame, 64), done: make(chan struct{}), waiters: make(map[string]chan frame)}
	ws.SetReadDeadline(time.Now().Add(wait))
	var hello frame
	if err := ws.ReadJSON(&hello); err != nil || hello.Event != "hello" {
		ws.Close()
		return nil, fmt.Errorf("no hello event: %+v, %v", hello, err)
	}
	ws.SetReadDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		var f frame
		if err := c.ws.ReadJSON(&f); err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		if f.Event != "" {
			select {
			case c.events <- f:
			default:
				// Events carry full state: a test that does not read
				// them loses nothing it needs.
			}
			continue
		}
		c.mu.Lock()
		ch := c.waiters[string(f.ID)]
		delete(c.waiters, string(f.ID))
		c.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

// send sends a request and returns the channel its answer arrives on.
func (c *client) send(method string, params any) (id string, answer <-chan frame, err error) {
	id = strconv.FormatInt(c.nextID.Add(1), 10)
	ch := make(chan frame, 1)
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	req := map[string]any{"id": json.Number(id), "method": method}
	if params != nil {
		req["params"] = params
	}
	c.ws.SetWriteDeadline(time.Now().Add(wait))
	if err := c.ws.WriteJSON(req); err != nil {
		return "", nil, err
	}
	return id, ch, nil
}

// sendRaw sends a frame as is.
func (c *client) sendRaw(b []byte) error {
	c.ws.SetWriteDeadline(time.Now().Add(wait))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// await waits for an answer.
func (c *client) await(ctx context.Context, answer <-chan frame) (json.RawMessage, error) {
	select {
	case f := <-answer:
		if f.Error != nil {
			return nil, f.Error
		}
		return f.Result, nil
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return nil, fmt.Errorf("connection closed: %w", c.readErr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// call sends a request and waits for its answer; a protocol error is
// returned as a *wireError.
func (c *client) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	_, ch, err := c.send(method, params)
	if err != nil {
		return nil, err
	}
	return c.await(ctx, ch)
}

// callInto is call, decoding the result into v.
func (c *client) callInto(ctx context.Context, method string, params, v any) error {
	res, err := c.call(ctx, method, params)
	if err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(res, v); err != nil {
		return fmt.Errorf("%s result %s: %w", method, res, err)
	}
	return nil
}

// readersEvent waits for a readers event that satisfies ok.
func (c *client) readersEvent(ctx context.Context, ok func(readersResult) bool) (readersResult, error) {
	for {
		select {
		case f := <-c.events:
			if f.Event != "readers" {
				continue
			}
			var r readersResult
			if err := json.Unmarshal(f.Data, &r); err != nil {
				return r, err
			}
			if ok(r) {
				return r, nil
			}
		case <-c.done:
			return readersResult{}, errors.New("connection closed")
		case <-ctx.Done():
			return readersResult{}, fmt.Errorf("no matching readers event: %w", ctx.Err())
		}
	}
}

// close closes the connection the way a page does when it navigates away.
func (c *client) close() {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""),
		time.Now().Add(time.Second))
	c.ws.Close()
	<-c.done
}

// drop closes the TCP connection without a close frame, as a crashed tab.
func (c *client) drop() {
	c.ws.NetConn().Close()
	<-c.done
}

// Results, as much of them as the tests look at.

type readersResult struct {
	Readers []struct {
		Name        string `json:"name"`
		CardPresent bool   `json:"cardPresent"`
		Card        *struct {
			Type string `json:"type"`
			ATR  string `json:"atr"`
		} `json:"card"`
	} `json:"readers"`
	Error *wireError `json:"error"`
}

func (r readersResult) hasCard(reader string) bool {
	for _, x := range r.Readers {
		if x.Name == reader && x.CardPresent && x.Card != nil && x.Card.Type == "beid" {
			return true
		}
	}
	return false
}

func (r readersResult) empty(reader string) bool {
	for _, x := range r.Readers {
		if x.Name == reader {
			return !x.CardPresent
		}
	}
	return false
}

type integrity struct {
	Valid  bool     `json:"valid"`
	Errors []string `json:"errors"`
}

type identityResult struct {
	Identity struct {
		NationalNumber string `json:"nationalNumber"`
		Surname        string `json:"surname"`
		CardNumber     string `json:"cardNumber"`
	} `json:"identity"`
	Integrity integrity `json:"integrity"`
}

type photoResult struct {
	Photo     []byte    `json:"photo"` // base64 in JSON
	Integrity integrity `json:"integrity"`
}

func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// verifySignature checks a sign result (r||s for ECDSA) with the card's
// signing certificate.
func verifySignature(card *sim.Card, h crypto.Hash, digest, sig []byte) error {
	switch pub := card.SignCert().PublicKey.(type) {
	case *ecdsa.PublicKey:
		der, err := beid.ECDSARawToASN1(sig)
		if err != nil {
			return err
		}
		if !ecdsa.VerifyASN1(pub, digest, der) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, h, digest, sig)
	}
	return fmt.Errorf("unexpected key type %T", card.SignCert().PublicKey)
}
