package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
)

// benchOrigin is the page origin the bench connects as; the daemons it
// starts allow it without a consent dialog.
const benchOrigin = "https://bench.example"

// wsClient is a page's connection, used one request at a time.
type wsClient struct {
	ws   *websocket.Conn
	next int64
}

// rpcError is a protocol error answer.
type rpcError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return e.Code + ": " + e.Message }

// dial connects to url as a page of origin and reads the hello event.
func dial(ctx context.Context, url, origin string) (*wsClient, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.DialContext(ctx, url, http.Header{"Origin": {origin}})
	if err != nil {
		return nil, err
	}
	var hello struct {
		Event string `json:"event"`
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.ReadJSON(&hello); err != nil || hello.Event != "hello" {
		ws.Close()
		return nil, fmt.Errorf("no hello event (%v)", err)
	}
	return &wsClient{ws: ws}, nil
}

// call sends a request and waits for its answer, skipping events.
func (c *wsClient) call(method string) (json.RawMessage, error) { return c.callWith(method, nil) }

// callWith is call with params (none when nil).
func (c *wsClient) callWith(method string, params any) (json.RawMessage, error) {
	c.next++
	id := c.next
	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.ws.WriteJSON(req); err != nil {
		return nil, err
	}
	c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		var f struct {
			ID     *int64          `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if err := c.ws.ReadJSON(&f); err != nil {
			return nil, err
		}
		if f.ID == nil || *f.ID != id {
			continue // an event
		}
		if f.Error != nil {
			return nil, f.Error
		}
		return f.Result, nil
	}
}

func (c *wsClient) close() {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	c.ws.Close()
}

// inProcessDaemon is the daemon's server in this process: the PC/SC readers
// adapter, a scripted prompter (never asked: the bench origin is allowed),
// a real loopback listener.
type inProcessDaemon struct {
	url      string
	srv      *bridge.Server
	readers  *pcscreaders.Readers
	prompter *bridgetest.Prompter
	done     chan error
}

// benchReaders is the PC/SC readers adapter as the bench uses it. pause
// is the pause after a 6Cxx answer the sessions ask the driver for (the
// plain simulator needs none; nil keeps the driver's default, as the
// daemon has on real readers). When cold, every session looks like a new
// card insertion, so that the daemon's card cache never answers: (a) and
// (b) measure the card work of each request.
type benchReaders struct {
	*pcscreaders.Readers
	pause *time.Duration
	cold  bool
	n     atomic.Int64
}

func (b *benchReaders) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	s, err := b.Readers.Open(ctx, reader)
	if err != nil {
		return nil, err
	}
	as, ok := s.(bridge.ATRSession)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("bench: the PC/SC session does not know its ATR")
	}
	bs := &benchSession{ATRSession: as}
	switch is, ok := s.(bridge.InsertionSession); {
	case b.cold:
		// Above any count PC/SC keeps (16 bits).
		bs.mark, bs.marked = 1<<20+int(b.n.Add(1)), true
	case ok:
		bs.mark, bs.marked = is.Insertion()
	}
	if b.pause == nil {
		return plainSession{bs}, nil
	}
	return pacedSession{bs, *b.pause}, nil
}

type benchSession struct {
	bridge.ATRSession
	mark   int
	marked bool
}

func (s *benchSession) Insertion() (int, bool) { return s.mark, s.marked }

// plainSession keeps the driver's default pause; pacedSession sets it.
type (
	plainSession struct{ *benchSession }
	pacedSession struct {
		*benchSession
		pause time.Duration
	}
)

func (s pacedSession) ResendDelay() time.Duration { return s.pause }

// simPause is the pause the plain simulated card needs after 6Cxx: none.
var simPause = new(time.Duration)

func startInProcess(limits bridge.Limits) (*inProcessDaemon, error) {
	return startServer(limits, &benchReaders{Readers: pcscreaders.New(), pause: simPause, cold: true})
}

// startServer is startInProcess over readers, which it closes on stop.
func startServer(limits bridge.Limits, readers *benchReaders) (*inProcessDaemon, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	d := &inProcessDaemon{readers: readers.Readers, prompter: &bridgetest.Prompter{}, done: make(chan error, 1)}
	d.srv, err = bridge.New(bridge.Config{
		Addrs:          []string{ln.Addr().String()},
		Port:           port,
		AllowedOrigins: []string{benchOrigin},
		Readers:        readers,
		Prompter:       d.prompter,
		Logger:         slog.New(slog.DiscardHandler),
		Limits:         limits,
		Version:        "bench",
	})
	if err != nil {
		ln.Close()
		d.readers.Close()
		return nil, err
	}
	d.url = "ws://127.0.0.1:" + strconv.Itoa(port) + "/v1"
	go func() { d.done <- d.srv.Serve(context.Background(), ln) }()
	return d, nil
}

func (d *inProcessDaemon) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.srv.Shutdown(ctx)
	<-d.done
	d.readers.Close()
}

// unlimited returns limits that do not throttle a benchmark (the
// per-page rate limit above all).
func unlimited() bridge.Limits {
	return bridge.Limits{MaxConns: 256, MaxConnsPerOrigin: 256, RatePerSecond: 1e9, RateBurst: 1 << 30, MaxPending: 64}
}
