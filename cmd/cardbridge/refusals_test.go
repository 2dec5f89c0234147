//go:build unix

package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/internal/rig"
)

// dialogsShown returns the dialogs the test prompter showed (see
// CARDBRIDGE_TEST_DIALOGS), one per line.
func dialogsShown(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// refusedHost runs one host session of origin, which must be refused
// with code, the way a browser runs a host for each session a page opens.
func refusedHost(t *testing.T, bin string, env []string, origin, code string) {
	t.Helper()
	h := startHostProc(t, bin, env, nativemsg.ChromeOrigin)
	h.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin})
	if m := h.recv(); m["event"] != "refused" || !strings.Contains(mustJSON(m), code) {
		t.Fatalf("got %v, want refused %s; stderr:\n%s", m, code, h.stderr)
	}
	if c := h.exit(); c != 0 {
		t.Fatalf("exit %d; stderr:\n%s", c, h.stderr)
	}
}

// TestAttackHostRefusalsShared reproduces the attack on hosts serving in
// their own process (no daemon): every session a page opened was a new
// host process with a fresh memory of refusals, so the page got a fresh
// consent dialog right after each "No". The refusal must hold across the
// user's processes.
func TestAttackHostRefusalsShared(t *testing.T) {
	bin := buildTestBinary(t)
	dialogs := filepath.Join(t.TempDir(), "dialogs")
	env := userEnv(t, "CARDBRIDGE_TEST_CONSENT=deny", "CARDBRIDGE_TEST_DIALOGS="+dialogs)

	refusedHost(t, bin, env, "https://evil.example", "CONSENT_DENIED")
	// The page opens another session at once: a new host process.
	refusedHost(t, bin, env, "https://evil.example", "CONSENT_DENIED")
	// Another origin of the same site is the same owner.
	refusedHost(t, bin, env, "https://a.evil.example", "CONSENT_DENIED")
	if got := dialogsShown(t, dialogs); len(got) != 1 {
		t.Fatalf("dialogs shown: %q, want one consent dialog", got)
	}
}

// The daemon and the hosts share refusals both ways: a page refused
// while no daemon ran is not asked again through the daemon once it
// starts, and one refused through the daemon is not asked again by a
// host serving in its own process once the daemon quits (from the tray,
// say).
func TestHostRefusalsSharedWithDaemon(t *testing.T) {
	bin := buildTestBinary(t)
	dialogs := filepath.Join(t.TempDir(), "dialogs")
	env := userEnv(t, "CARDBRIDGE_TEST_CONSENT=deny", "CARDBRIDGE_TEST_DIALOGS="+dialogs)

	refusedHost(t, bin, env, "https://evil.example", "CONSENT_DENIED")
	d := startDaemon(t, bin, env)
	refusedHost(t, bin, env, "https://evil.example", "CONSENT_DENIED")
	d.waitLog(t, "relay session ended") // served by the daemon
	refusedHost(t, bin, env, "https://other.example", "CONSENT_DENIED")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Wait()
	refusedHost(t, bin, env, "https://other.example", "CONSENT_DENIED")
	if got := dialogsShown(t, dialogs); len(got) != 2 {
		t.Fatalf("dialogs shown: %q, want one consent dialog per site; daemon log:\n%s", got, d)
	}
}

// TestAttackHostPINRefusalsShared: the back-off after refused PIN
// dialogs and the count that leads to the "block this site" offer carry
// over from one host process to the next.
func TestAttackHostPINRefusalsShared(t *testing.T) {
	bin := binaryWithCard(t)
	dialogs := filepath.Join(t.TempDir(), "dialogs")
	// No CARDBRIDGE_TEST_PIN: every PIN dialog is cancelled.
	env := userEnv(t, "CARDBRIDGE_TEST_CONSENT=allow-always", "CARDBRIDGE_TEST_DIALOGS="+dialogs)
	const origin = "https://evil.example"

	verify := func() map[string]any {
		t.Helper()
		h := startHostProc(t, bin, env, nativemsg.ChromeOrigin)
		h.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin})
		if m := h.recv(); m["event"] != "hello" {
			t.Fatalf("got %v, want hello; stderr:\n%s", m, h.stderr)
		}
		h.send(map[string]any{"id": 1, "method": "pin.verify", "params": map[string]any{"reader": rig.Reader}})
		r := h.answer(1)
		if c := h.exit(); c != 0 {
			t.Fatalf("exit %d; stderr:\n%s", c, h.stderr)
		}
		return r
	}
	pins := func() []string {
		var out []string
		for _, d := range dialogsShown(t, dialogs) {
			if strings.HasPrefix(d, "pin_") {
				out = append(out, d)
			}
		}
		return out
	}

	verify() // first refusal: no pause
	verify() // second refusal: RefusalBackoff (2 s)
	if n := len(pins()); n != 2 {
		t.Fatalf("PIN dialogs %q, want 2", pins())
	}
	// A new process at once: still in the back-off, no dialog.
	if r := verify(); !strings.Contains(mustJSON(r), "RATE_LIMITED") {
		t.Fatalf("third session right after two refusals: %v", r)
	}
	if n := len(pins()); n != 2 {
		t.Fatalf("PIN dialogs %q, want 2 (no dialog within the back-off)", pins())
	}
	time.Sleep(2500 * time.Millisecond)
	verify() // third refusal: 4 s
	time.Sleep(4500 * time.Millisecond)
	verify() // the fourth dialog offers to block the site
	got := pins()
	if len(got) != 4 || !strings.HasSuffix(got[3], "offerBlock=true") || strings.HasSuffix(got[2], "offerBlock=true") {
		t.Fatalf("PIN dialogs %q: want the fourth, and only it, to offer blocking the site", got)
	}
}

// testLogger logs in buf.
func testLogger(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func newRefusalFile(dir string, log *slog.Logger) *refusalFile {
	return &refusalFile{path: filepath.Join(dir, "refusals.json"), log: log,
		lock: func(ctx context.Context) (func(), error) { return flockWait(ctx, filepath.Join(dir, "refusals.lock")) }}
}

// Two processes' stores on one file see each other's refusals; the file
// holds sites and times only, and is the user's alone.
func TestRefusalFileShared(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	a, b := newRefusalFile(dir, testLogger(&logs)), newRefusalFile(dir, testLogger(&logs))
	until := time.Now().Add(time.Minute).Round(0)
	a.Update(func(r *bridge.Refusals) { r.DeniedUntil = map[string]time.Time{"https://evil.example": until} })
	r := b.Load()
	if !r.ConsentPaused("https://evil.example", time.Now()) || r.ConsentPaused("https://good.example", time.Now()) {
		t.Fatalf("the other process sees %+v", r)
	}
	b.Update(func(r *bridge.Refusals) { r.Denials = append(r.Denials, time.Now()) })
	if r := a.Load(); len(r.Denials) != 1 || !r.DeniedUntil["https://evil.example"].Equal(until) {
		t.Fatalf("updates lost: %+v", r)
	}
	fi, err := os.Stat(a.path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	if logs.Len() != 0 {
		t.Errorf("warnings: %s", &logs)
	}
}

// A garbled, oversized or unwritable file is logged, and each process
// goes on with the refusals it knows (fail-safe within the process, no
// pause of every dialog); the next refusal replaces a garbled file.
func TestRefusalFileDamaged(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbled":    []byte(`{"deniedUntil": {"https://evil.example": "yesterday`),
		"wrong type": []byte(`[1,2,3]`),
		"oversized":  bytes.Repeat([]byte(" "), maxRefusalFile+1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var logs bytes.Buffer
			s := newRefusalFile(dir, testLogger(&logs))
			s.Update(func(r *bridge.Refusals) {
				r.DeniedUntil = map[string]time.Time{"https://evil.example": time.Now().Add(time.Minute)}
			})
			if err := os.WriteFile(s.path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			r := s.Load()
			if !r.ConsentPaused("https://evil.example", time.Now()) || r.ConsentPaused("https://good.example", time.Now()) {
				t.Fatalf("after the file was damaged: %+v", r)
			}
			if !strings.Contains(logs.String(), "refusal state is unusable") {
				t.Fatalf("not logged: %s", &logs)
			}
			// A fresh process knows nothing: no pause for anyone.
			if r := newRefusalFile(dir, testLogger(&logs)).Load(); r.ConsentPaused("https://good.example", time.Now()) {
				t.Fatalf("a damaged file paused the dialogs: %+v", r)
			}
			s.Update(func(r *bridge.Refusals) { r.Denials = append(r.Denials, time.Now()) })
			if _, err := readRefusals(s.path); err != nil {
				t.Fatalf("not replaced: %v", err)
			}
		})
	}
	t.Run("unwritable", func(t *testing.T) {
		dir := t.TempDir()
		var logs bytes.Buffer
		s := newRefusalFile(dir, testLogger(&logs))
		s.path = filepath.Join(dir, "missing", "refusals.json")
		s.Update(func(r *bridge.Refusals) {
			r.DeniedUntil = map[string]time.Time{"https://evil.example": time.Now().Add(time.Minute)}
		})
		if r := s.Load(); !r.ConsentPaused("https://evil.example", time.Now()) {
			t.Fatalf("refusal lost: %+v", r)
		}
		if !strings.Contains(logs.String(), "cannot write them") {
			t.Fatalf("not logged: %s", &logs)
		}
	})
}
