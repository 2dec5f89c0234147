package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/internal/rig"
)

// testBinary is the cardbridge binary built once for the package's tests.
var testBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// buildTestBinary builds cardbridge with the test prompter (-tags
// cardbridgetest), which answers dialogs from the environment. It is
// built once per test run; TestMain removes it.
func buildTestBinary(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		testBinary.dir, testBinary.err = os.MkdirTemp("", "cardbridge-test-bin-")
		if testBinary.err != nil {
			return
		}
		testBinary.path = filepath.Join(testBinary.dir, "cardbridge")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		testBinary.out, testBinary.err = exec.CommandContext(ctx, "go", "build", "-tags", "cardbridgetest", "-o", testBinary.path, ".").CombinedOutput()
	})
	if testBinary.err != nil {
		t.Fatalf("go build: %v\n%s", testBinary.err, testBinary.out)
	}
	return testBinary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		os.RemoveAll(testBinary.dir)
	}
	os.Exit(code)
}

// userEnv is a fresh user: its own HOME, config, state and runtime
// directories, so that no host manifest, consent or relay of the machine's
// user is touched.
func userEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	runtime := filepath.Join(home, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".state"), "XDG_RUNTIME_DIR=" + runtime,
		"PATH=" + os.Getenv("PATH")}
	return append(env, extra...)
}

// hostProc is a host process the way a browser runs it.
type hostProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *bytes.Buffer
}

func startHostProc(t *testing.T, bin string, env []string, args ...string) *hostProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	h := &hostProc{t: t, cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if h.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return h
}

func (h *hostProc) send(v any) {
	h.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := nativemsg.WriteFrame(h.stdin, b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostProc) recv() map[string]any {
	h.t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := nativemsg.ReadFrame(h.stdout, nativemsg.MaxToBrowser)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			h.t.Fatalf("reading the host: %v; stderr:\n%s", r.err, h.stderr)
		}
		var m map[string]any
		if err := json.Unmarshal(r.b, &m); err != nil {
			h.t.Fatalf("host wrote %q", r.b)
		}
		return m
	case <-time.After(20 * time.Second):
		h.t.Fatalf("no message from the host; stderr:\n%s", h.stderr)
	}
	return nil
}

func (h *hostProc) answer(id float64) map[string]any {
	h.t.Helper()
	for {
		m := h.recv()
		if got, ok := m["id"].(float64); ok && got == id {
			return m
		}
	}
}

// exit closes stdin, as the browser does when the page's port closes, and
// returns the exit code.
func (h *hostProc) exit() int {
	h.t.Helper()
	h.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		h.t.Fatalf("host did not exit after stdin closed; stderr:\n%s", h.stderr)
	}
	return h.cmd.ProcessState.ExitCode()
}

// session runs open → hello → readers → identity, and checks the identity
// came from the card in the rig.
func (h *hostProc) session(origin string) {
	h.t.Helper()
	h.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin})
	if m := h.recv(); m["event"] != "hello" {
		h.t.Fatalf("got %v, want hello; stderr:\n%s", m, h.stderr)
	}
	h.send(map[string]any{"id": 1, "method": "readers"})
	if r := h.answer(1); !strings.Contains(mustJSON(r), rig.Reader) {
		h.t.Fatalf("readers: %v", r)
	}
	h.send(map[string]any{"id": 2, "method": "identity"})
	r := h.answer(2)
	res, _ := r["result"].(map[string]any)
	id, _ := res["identity"].(map[string]any)
	if id == nil || id["cardNumber"] == nil {
		h.t.Fatalf("identity: %v", r)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// binaryWithCard builds the test binary and inserts an ECC card in the
// rig's reader (skipping without the rig).
func binaryWithCard(t *testing.T) string {
	t.Helper()
	rig.Require(t)
	bin := buildTestBinary(t)
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC})
	if err != nil {
		t.Fatal(err)
	}
	rig.Insert(t, card)
	return bin
}

// TestNativeHostBinary runs the built binary as browsers run a native
// host, over pipes, against the card in the rig: serving in its own
// process without a daemon, and relaying to the running daemon.
func TestNativeHostBinary(t *testing.T) {
	bin := binaryWithCard(t)

	t.Run("in process", func(t *testing.T) {
		h := startHostProc(t, bin, userEnv(t, "CARDBRIDGE_TEST_CONSENT=allow-once"), nativemsg.ChromeOrigin)
		h.session("https://portal.example")
		if code := h.exit(); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, h.stderr)
		}
	})
	t.Run("firefox denied", func(t *testing.T) {
		h := startHostProc(t, bin, userEnv(t, "CARDBRIDGE_TEST_CONSENT=deny"), "/usr/lib/mozilla/native-messaging-hosts/org.cardbridge.host.json", nativemsg.FirefoxExtensionID)
		h.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": "https://portal.example"})
		m := h.recv()
		if m["event"] != "refused" || !strings.Contains(mustJSON(m), "CONSENT_DENIED") {
			t.Fatalf("got %v, want refused CONSENT_DENIED", m)
		}
		if code := h.exit(); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, h.stderr)
		}
	})
	t.Run("relay to the daemon", func(t *testing.T) {
		env := userEnv(t, "CARDBRIDGE_TEST_CONSENT=allow-once")
		d := startDaemon(t, bin, env)
		h := startHostProc(t, bin, env, nativemsg.ChromeOrigin, "--parent-window=0")
		h.session("https://relayed.example")
		if code := h.exit(); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, h.stderr)
		}
		// The daemon served the session: its consent, its reader lock,
		// its tray.
		d.waitLog(t, `origin=https://relayed.example transport=native`)
		if out, _ := runBinary(t, bin, env, "status"); !strings.Contains(out, "(the daemon answers)") {
			t.Errorf("status does not see the relay:\n%s", out)
		}
	})
}

type daemonProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

func (d *daemonProc) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.Write(p)
}

func (d *daemonProc) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

func (d *daemonProc) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon log lacks %q:\n%s", s, d.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startDaemon runs "cardbridge run" for the user of env, on a free port,
// and waits for its relay.
func startDaemon(t *testing.T, bin string, env []string, args ...string) *daemonProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	d := &daemonProc{}
	d.cmd = exec.Command(bin, append([]string{"run", "--port", port, "--prompter", "test", "--tray", "off", "--log-file", "-"}, args...)...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	})
	d.waitLog(t, "relay for the browser extension")
	return d
}

// TestNativeHostAdministratorOrigins: the administrator's machine-wide
// origin policy holds whether a host serves in its own process (no
// daemon) or relays to the daemon (`run --system-config`): a listed
// origin is served without the consent dialog, any other is refused
// without one.
func TestNativeHostAdministratorOrigins(t *testing.T) {
	bin := buildTestBinary(t)
	sys := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(sys, []byte(`{"allowedOrigins": ["https://portal.example"], "onlyAllowedOrigins": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The user would deny every dialog: only the policy lets the portal in.
	check := func(t *testing.T, env []string) {
		t.Helper()
		for origin, want := range map[string]string{
			"https://portal.example": "hello",
			"https://other.example":  "ORIGIN_NOT_ALLOWED",
		} {
			h := startHostProc(t, bin, env, nativemsg.ChromeOrigin)
			h.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin})
			m := h.recv()
			if got := mustJSON(m); (want == "hello") != (m["event"] == "hello") || !strings.Contains(got, want) {
				t.Errorf("%s: got %s, want %s; stderr:\n%s", origin, got, want, h.stderr)
			}
			h.exit()
		}
	}
	t.Run("in process", func(t *testing.T) {
		check(t, userEnv(t, "CARDBRIDGE_TEST_CONSENT=deny", "CARDBRIDGE_TEST_SYSTEM_CONFIG="+sys))
	})
	t.Run("relayed to the daemon", func(t *testing.T) {
		env := userEnv(t, "CARDBRIDGE_TEST_CONSENT=deny")
		startDaemon(t, bin, env, "--system-config", sys)
		check(t, env)
	})
	env := userEnv(t, "CARDBRIDGE_TEST_CONSENT=deny", "CARDBRIDGE_TEST_SYSTEM_CONFIG="+sys)

	// An unusable administrator's config stops the host rather than
	// serving without the policy.
	if err := os.WriteFile(sys, []byte(`{"allowedOrigins": ["http://portal.example"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHostProc(t, bin, env, nativemsg.ChromeOrigin)
	h.send(map[string]any{"cardbridge": "open", "protocol": 1, "origin": "https://portal.example"})
	if code := h.exit(); code == 0 {
		t.Errorf("host served with an unusable administrator's config; stderr:\n%s", h.stderr)
	}
}

// TestNativeHostRefusesOtherExtensions: started for another extension,
// the host says why and exits without serving.
func TestNativeHostRefusesOtherExtensions(t *testing.T) {
	for _, args := range [][]string{
		{"chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"},
		{"chrome-extension://" + nativemsg.ChromeExtensionID + "/", "--evil"},
		{"/tmp/org.cardbridge.host.json", "other@example.org"},
	} {
		var out, errOut bytes.Buffer
		code := realMain(context.Background(), args, &out, &errOut)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		m, err := nativemsg.ReadFrame(&out, nativemsg.MaxToBrowser)
		if err != nil || !strings.Contains(string(m), `"refused"`) {
			t.Errorf("%v: wrote %q (%v), want a refused message", args, m, err)
		}
	}
}

func TestNativeManifestCommand(t *testing.T) {
	out, stderr, code := run(t, "native-manifest", "--browser", "firefox", "--path", "/usr/bin/cardbridge")
	if code != 0 || !strings.Contains(out, `"allowed_extensions": [`) || !strings.Contains(out, `"path": "/usr/bin/cardbridge"`) {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	if _, _, code := run(t, "native-manifest", "--browser", "safari", "--path", "/usr/bin/cardbridge"); code != 2 {
		t.Errorf("unknown browser: exit %d, want 2", code)
	}
	if _, _, code := run(t, "native-manifest", "--browser", "chrome", "--path", "cardbridge"); code != 2 {
		t.Errorf("relative path: exit %d, want 2", code)
	}
}
