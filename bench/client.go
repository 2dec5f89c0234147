package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
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
func (c *wsClient) call(method string) (json.RawMessage, error) {
	c.next++
	id := c.next
	c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.ws.WriteJSON(map[string]any{"id": id, "method": method}); err != nil {
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
	url     string
	srv     *bridge.Server
	readers *pcscreaders.Readers
	done    chan error
}

func startInProcess(limits bridge.Limits) (*inProcessDaemon, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	d := &inProcessDaemon{readers: pcscreaders.New(), done: make(chan error, 1)}
	d.srv, err = bridge.New(bridge.Config{
		Addrs:          []string{ln.Addr().String()},
		Port:           port,
		AllowedOrigins: []string{benchOrigin},
		Readers:        d.readers,
		Prompter:       &bridgetest.Prompter{},
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
