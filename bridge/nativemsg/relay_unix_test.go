//go:build unix

package nativemsg_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/internal/otheruser"
)

// daemonRelay serves core's relay at a fresh path, as the daemon does.
func daemonRelay(t *testing.T, core *bridge.Core, log *slog.Logger) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cardbridge", "relay.sock")
	ln, err := nativemsg.ListenRelay(path, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nativemsg.ServeRelay(ctx, core, ln) }()
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		core.Shutdown(sctx)
		if err := <-done; err != nil {
			t.Errorf("ServeRelay: %v", err)
		}
	})
	return path
}

func TestRelaySession(t *testing.T) {
	pr := &bridgetest.Prompter{}
	pr.AllowConsent(bridge.AllowOnce)
	core := newCore(t, pr, true)
	path := daemonRelay(t, core, nil)

	for name, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	if _, err := nativemsg.ListenRelay(path, nil); !errors.Is(err, nativemsg.ErrRelayInUse) {
		t.Errorf("second daemon's ListenRelay: %v, want ErrRelayInUse", err)
	}

	b := startHost(t, func(ctx context.Context, in io.Reader, out io.Writer) error {
		conn, err := nativemsg.DialRelay(ctx, path)
		if err != nil {
			return err
		}
		return nativemsg.Relay(ctx, conn, in, out)
	})
	b.send(open(testOrigin))
	if m := b.recv(); m["event"] != "hello" {
		t.Fatalf("got %v, want hello", m)
	}
	if c := pr.Calls(); len(c) != 1 || c[0].Origin != testOrigin {
		t.Fatalf("dialogs %+v, want the daemon's consent dialog for %s", c, testOrigin)
	}
	b.send(map[string]any{"id": 1, "method": "identity"})
	if r := b.answer(1); r["result"] == nil {
		t.Fatalf("identity over the relay: %v", r)
	}
	b.toIn.Close()
	if err := b.exit(); err != nil {
		t.Fatalf("relaying host ended with %v", err)
	}
}

// Another OS user can neither enter the relay's directory nor, when the
// socket is made reachable by mistake, get past the peer check: the
// connection is closed before the daemon reads a byte, and no dialog is
// shown.
func TestRelayOtherUser(t *testing.T) {
	bin := otheruser.Client(t)
	pr := &bridgetest.Prompter{}
	pr.AllowConsent(bridge.AllowAlways)
	logs := &lockedBuffer{}
	core := newCore(t, pr, true, func(c *bridge.Config) { c.AllowedOrigins = []string{testOrigin} })
	path := daemonRelay(t, core, slog.New(slog.NewTextHandler(logs, nil)))

	out := otheruser.Run(t, bin, "unix", path, testOrigin)
	if !strings.HasPrefix(out, "dial:") || !strings.Contains(out, "permission denied") {
		t.Fatalf("nobody on the private socket: %q, want permission denied", out)
	}

	// Open the way, as a careless administrator might.
	for d := filepath.Dir(path); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	out = otheruser.Run(t, bin, "unix", path, testOrigin)
	t.Logf("nobody on the opened socket: %s", out)
	if strings.HasPrefix(out, "message:") {
		t.Fatalf("nobody got an answer through the relay: %q", out)
	}
	if !strings.HasPrefix(out, "read:") && !strings.HasPrefix(out, "write:") {
		t.Fatalf("nobody on an open socket: %q, want the connection closed", out)
	}
	if len(pr.Calls()) != 0 {
		t.Fatalf("another user's connection reached the dialogs: %+v", pr.Calls())
	}
	// A host does not trust a relay in a directory others can enter.
	if conn, err := nativemsg.DialRelay(context.Background(), path); err == nil {
		conn.Close()
		t.Fatal("DialRelay accepted a relay directory other users can enter")
	}
	if !strings.Contains(string(logs.Bytes()), "relay peer is another user") {
		t.Errorf("the refusal was not logged:\n%s", logs.Bytes())
	}
}

// With real pipes, as a browser gives them, the host passes them to the
// daemon (SCM_RIGHTS) and only waits: the session works the same, and
// the host returns once the browser closes its end.
func TestRelayPassesPipes(t *testing.T) {
	pr := &bridgetest.Prompter{}
	pr.AllowConsent(bridge.AllowOnce)
	core := newCore(t, pr, true)
	path := daemonRelay(t, core, nil)

	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nativemsg.DialRelay(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	hostDone := make(chan error, 1)
	go func() {
		hostDone <- nativemsg.Relay(context.Background(), conn, inR, outW)
		// As the host process exits: its copies of the pipes go.
		inR.Close()
		outW.Close()
	}()
	b := &browser{t: t, toIn: nil, inbox: make(chan map[string]any, 16)}
	go b.readFrames(outR)
	send := func(v any) {
		raw, _ := json.Marshal(v)
		if err := nativemsg.WriteFrame(inW, raw); err != nil {
			t.Fatal(err)
		}
	}
	send(open(testOrigin))
	if m := b.recv(); m["event"] != "hello" {
		t.Fatalf("got %v, want hello", m)
	}
	send(map[string]any{"id": 1, "method": "identity"})
	if r := b.answer(1); r["result"] == nil {
		t.Fatalf("identity: %v", r)
	}
	inW.Close() // the browser closes the port
	select {
	case err := <-hostDone:
		if err != nil {
			t.Fatalf("host: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the host did not return after the browser closed the port")
	}
}
