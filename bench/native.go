package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
)

// benchNative measures (i): a full read over native messaging as an
// extension's session runs it, against the same card work in process.
// The cardbridge binary is started the way a browser starts the host (the
// extension's id as its argument, frames on stdin and stdout), and hands
// the session over the user's relay socket to the daemon's core, here in
// this process as in (a): on Unix it passes its stdin and stdout, so the
// core reads and writes the bench's pipes itself. The bench plays the
// browser.
func benchNative(ctx context.Context, o options, bin string, cs *cardSlot, r *report) error {
	home, err := os.MkdirTemp("", "cardbridge-bench-home-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	runtimeDir := filepath.Join(home, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		return err
	}

	readers := &benchReaders{Readers: pcscreaders.New(), pause: simPause, cold: true}
	defer readers.Close()
	core, err := bridge.NewCore(bridge.Config{
		AllowedOrigins: []string{benchOrigin},
		Readers:        readers,
		Prompter:       &bridgetest.Prompter{},
		Logger:         slog.New(slog.DiscardHandler),
		Limits:         unlimited(),
		Version:        "bench",
	})
	if err != nil {
		return err
	}
	ln, err := nativemsg.ListenRelay(filepath.Join(runtimeDir, "cardbridge", "relay.sock"), nil)
	if err != nil {
		return err
	}
	rctx, stopRelay := context.WithCancel(ctx)
	relayed := make(chan error, 1)
	go func() { relayed <- nativemsg.ServeRelay(rctx, core, ln) }()
	defer func() {
		stopRelay()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		core.Shutdown(sctx)
		<-relayed
	}()

	host := exec.CommandContext(ctx, bin, nativemsg.ChromeOrigin)
	host.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_RUNTIME_DIR="+runtimeDir)
	stdin, err := host.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := host.StdoutPipe()
	if err != nil {
		return err
	}
	if err := host.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close() // as the browser closes the port
		host.Wait()
	}()
	c := &nmClient{in: stdin, out: stdout}
	if err := c.open(benchOrigin); err != nil {
		return fmt.Errorf("native messaging session: %w", err)
	}
	if _, err := c.call("readers"); err != nil {
		return err
	}

	direct := &benchReaders{Readers: pcscreaders.New(), pause: simPause}
	defer direct.Close()
	inProcess := func() error { return readInProcess(ctx, direct, cs.reader) }
	nm, ip, err := alternate(o.rounds, c.fullRead, inProcess)
	if err != nil {
		return err
	}
	mnm, mip := median(nm), median(ip)
	ratio := float64(mnm) / float64(mip)
	r.figure("(i) full read, native messaging / in-process (median)", "≤ 1.05",
		fmt.Sprintf("%.3f (%s / %s)", ratio, ms(mnm), ms(mip)), ratio <= 1.05)
	r.note("the cardbridge binary as the extension's host, started as a browser starts it, handing its pipes to the daemon's core over the relay socket; %d rounds each way, alternating; fastest: %s / %s",
		o.rounds, ms(slices.Min(nm)), ms(slices.Min(ip)))
	return nil
}

// nmClient is the browser's side of a native-messaging port.
type nmClient struct {
	in   io.Writer
	out  io.Reader
	next int64
}

func (c *nmClient) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return nativemsg.WriteFrame(c.in, b)
}

// open sends the extension's open message and waits for hello.
func (c *nmClient) open(origin string) error {
	if err := c.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin}); err != nil {
		return err
	}
	b, err := nativemsg.ReadFrame(c.out, nativemsg.MaxToBrowser)
	if err != nil {
		return err
	}
	var m struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &m) != nil || m.Event != "hello" {
		return fmt.Errorf("got %s, want hello", b)
	}
	return nil
}

// call sends a request and waits for its answer, skipping events.
func (c *nmClient) call(method string) (json.RawMessage, error) {
	c.next++
	id := c.next
	if err := c.send(map[string]any{"id": id, "method": method}); err != nil {
		return nil, err
	}
	for {
		b, err := nativemsg.ReadFrame(c.out, nativemsg.MaxToBrowser)
		if err != nil {
			return nil, err
		}
		var f struct {
			ID     *int64          `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, err
		}
		if f.ID == nil || *f.ID != id {
			continue
		}
		if f.Error != nil {
			return nil, f.Error
		}
		return f.Result, nil
	}
}

func (c *nmClient) fullRead() error {
	for _, m := range []string{"identity", "address", "photo"} {
		if _, err := c.call(m); err != nil {
			return fmt.Errorf("%s over native messaging: %w", m, err)
		}
	}
	return nil
}
