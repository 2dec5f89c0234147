package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

const (
	testOrigin = "https://portal.example"
	testPIN    = "739251" // distinctive, so that a leak is found by search
	reader0    = "Virtual PCD 00 00"
	reader1    = "Virtual PCD 00 01"
)

// PKIs are costly to generate (RSA above all) and immutable: share one per
// profile across tests.
var pkis = struct {
	sync.Mutex
	m map[sim.Profile]*sim.PKI
}{m: map[sim.Profile]*sim.PKI{}}

func newCard(t testing.TB, p sim.Profile) *sim.Card {
	t.Helper()
	pkis.Lock()
	pki, ok := pkis.m[p]
	if !ok {
		var err error
		if pki, err = sim.NewPKI(p); err != nil {
			pkis.Unlock()
			t.Fatal(err)
		}
		pkis.m[p] = pki
	}
	pkis.Unlock()
	c, err := sim.New(sim.Options{Profile: p, PKI: pki, PIN: testPIN})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a running server on a loopback port with simulated readers.
type env struct {
	t        testing.TB
	srv      *bridge.Server
	readers  *simreaders.Readers
	prompter *bridgetest.Prompter
	port     int
	logs     *syncBuffer
}

type envOption func(*bridge.Config)

// preConsented lets testOrigin use the card without a consent dialog.
func preConsented(c *bridge.Config) { c.AllowedOrigins = append(c.AllowedOrigins, testOrigin) }

func withLimits(l bridge.Limits) envOption { return func(c *bridge.Config) { c.Limits = l } }

// newEnv starts a server with reader0 holding a card of profile p (none
// when p is 0) and reader1 empty.
func newEnv(t testing.TB, p sim.Profile, opts ...envOption) (*env, *sim.Card) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t:        t,
		readers:  simreaders.New(reader0, reader1),
		prompter: &bridgetest.Prompter{},
		port:     ln.Addr().(*net.TCPAddr).Port,
		logs:     &syncBuffer{},
	}
	var card *sim.Card
	if p != 0 {
		card = newCard(t, p)
		if err := e.readers.Insert(reader0, card); err != nil {
			t.Fatal(err)
		}
	}
	cfg := bridge.Config{
		Port:     e.port,
		Readers:  e.readers,
		Prompter: e.prompter,
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:  "0.1.0",
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv, err = bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := e.srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, bridge.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return e, card
}

func (e *env) url() string { return "ws://127.0.0.1:" + strconv.Itoa(e.port) + "/v1" }

// dialRaw opens a WebSocket with the given headers (Origin, Host...).
func (e *env) dialRaw(h http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(e.url(), h)
}

// status tries a handshake with the headers and returns its HTTP status:
// 101 when a session opened (it is closed again at once).
func (e *env) status(h http.Header) int {
	e.t.Helper()
	ws, resp, err := e.dialRaw(h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		e.t.Fatalf("handshake with %v: %v", h, err)
	}
	return resp.StatusCode
}

// handshake is a WebSocket opening handshake written by hand, so that a
// test can walk away from it while the server is still deciding, as a
// page that is closed while the consent dialog is open.
type handshake struct {
	t    testing.TB
	conn net.Conn
}

// startHandshake sends the opening handshake of a page on origin and
// returns without waiting for the answer.
func (e *env) startHandshake(origin string) *handshake {
	e.t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.port))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", e.port, origin)
	return &handshake{t: e.t, conn: conn}
}

// status waits for the server's answer and returns its HTTP status.
func (h *handshake) status() int {
	h.t.Helper()
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(h.conn), nil)
	if err != nil {
		h.t.Fatalf("handshake answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// abandon closes the connection before the server answered.
func (h *handshake) abandon() { h.conn.Close() }

// dial connects as origin and checks the hello event.
func (e *env) dial(origin string) *client {
	e.t.Helper()
	ws, resp, err := e.dialRaw(http.Header{"Origin": {origin}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial as %s: %v (HTTP %d)", origin, err, status)
	}
	c := newClient(e.t, ws)
	hello := c.event("hello")
	var hd struct {
		Protocol int    `json:"protocol"`
		Version  string `json:"version"`
	}
	if err := json.Unmarshal(hello.Data, &hd); err != nil || hd.Protocol != 1 || hd.Version != "0.1.0" {
		e.t.Fatalf("hello = %s", hello.Data)
	}
	return c
}

// msg is any server message.
type msg struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	} `json:"error"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	raw   []byte
}

func (m msg) code() string {
	if m.Error == nil {
		return ""
	}
	return m.Error.Code
}

// client is a test page. A goroutine reads every frame into frames.
type client struct {
	t       testing.TB
	ws      *websocket.Conn
	wmu     sync.Mutex
	frames  chan msg
	done    chan struct{}
	err     error // why reading stopped, set before done is closed
	mu      sync.Mutex
	backlog []msg // frames read while waiting for something else
	nextID  int
	all     *syncBuffer // every frame, for leak checks
}

func newClient(t testing.TB, ws *websocket.Conn) *client {
	c := &client{t: t, ws: ws, frames: make(chan msg, 4096), done: make(chan struct{}), all: &syncBuffer{}}
	go func() {
		defer close(c.done)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			c.all.Write(b)
			c.all.Write([]byte("\n"))
			var m msg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("server sent invalid JSON %q", b)
				continue
			}
			m.raw = b
			c.frames <- m
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *client) close() { c.ws.Close() }

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send sends a request and returns its id.
func (c *client) send(method string, params any) string {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := "r" + strconv.Itoa(c.nextID)
	c.mu.Unlock()
	c.sendWithID(id, method, params)
	return id
}

func (c *client) sendWithID(id any, method string, params any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

// wait returns the first frame matching f, keeping the others for later.
func (c *client) wait(what string, f func(msg) bool) msg {
	c.t.Helper()
	c.mu.Lock()
	for i, m := range c.backlog {
		if f(m) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			c.mu.Unlock()
			return m
		}
	}
	c.mu.Unlock()
	timeout := time.NewTimer(30 * time.Second) // only a failing test waits this out
	defer timeout.Stop()
	for {
		select {
		case m := <-c.frames:
			if f(m) {
				return m
			}
			c.mu.Lock()
			c.backlog = append(c.backlog, m)
			c.mu.Unlock()
		case <-c.done:
			// Drain what was read before the connection ended.
			select {
			case m := <-c.frames:
				if f(m) {
					return m
				}
				c.mu.Lock()
				c.backlog = append(c.backlog, m)
				c.mu.Unlock()
				continue
			default:
			}
			c.t.Fatalf("waiting for %s: connection ended: %v", what, c.err)
		case <-timeout.C:
			c.t.Fatalf("waiting for %s: timed out", what)
		}
	}
}

func (c *client) response(id string) msg {
	c.t.Helper()
	want, _ := json.Marshal(id)
	return c.wait("response "+id, func(m msg) bool { return m.Event == "" && bytes.Equal(m.ID, want) })
}

func (c *client) event(name string) msg {
	c.t.Helper()
	return c.wait("event "+name, func(m msg) bool { return m.Event == name })
}

// call sends a request and returns its response.
func (c *client) call(method string, params any) msg {
	c.t.Helper()
	return c.response(c.send(method, params))
}

// ok calls method, requires success and decodes the result into out.
func (c *client) ok(method string, params, out any) {
	c.t.Helper()
	m := c.call(method, params)
	if m.Error != nil {
		c.t.Fatalf("%s: error %s: %s", method, m.Error.Code, m.Error.Message)
	}
	if out != nil {
		if err := json.Unmarshal(m.Result, out); err != nil {
			c.t.Fatalf("%s: result %s: %v", method, m.Result, err)
		}
	}
}

// fails calls method and requires the error code.
func (c *client) fails(method string, params any, code string) msg {
	c.t.Helper()
	m := c.call(method, params)
	if m.code() != code {
		c.t.Fatalf("%s: got %s, want error %s", method, m.raw, code)
	}
	return m
}

// eventually polls cond until it holds. The limit only ends a test that
// already failed, so it leaves a loaded machine plenty of time.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func nonce() string {
	return fmt.Sprintf("%044d", time.Now().UnixNano())
}
