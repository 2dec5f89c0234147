package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/internal/rig"
)

// The extension tests run the product as a user with the cardbridge
// extension has it: the browser loads the extension (web/extension), the
// host manifest comes from the real `cardbridge install` in the test's
// own HOME, the browser starts the real cardbridge binary as the
// native-messaging host, and the host hands the session to the daemon
// (here the test's, with its scripted dialogs) over the per-user relay
// socket in the test's XDG_RUNTIME_DIR. The portal is a public site
// (portal.example, see lna_test.go) and no Local Network Access permission
// is granted: the extension needs none.

// userEnv is a throw-away user: HOME, XDG directories, and the cardbridge
// binary installed into it.
type userEnv struct {
	home, runtime string
	env           []string // the variables that make a process run as this user
}

// userVars are the environment variables of a user whose home is home.
func userVars(home, runtime string) []string {
	return []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_RUNTIME_DIR=" + runtime,
		// No user service manager: install registers the service
		// without starting it; the test runs the daemon itself.
		"DBUS_SESSION_BUS_ADDRESS=",
		"SUDO_USER=",
	}
}

// newUser builds cmd/cardbridge, makes a HOME for it and runs `cardbridge
// install` there, which writes the native-messaging host manifests.
func newUser(t *testing.T) *userEnv {
	t.Helper()
	u := bareUser(t)
	exe := filepath.Join(t.TempDir(), "cardbridge")
	build := exec.Command("go", "build", "-o", exe, "./cmd/cardbridge")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cardbridge: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "install")
	cmd.Env = append(os.Environ(), u.env...)
	out, err := cmd.CombinedOutput()
	t.Logf("cardbridge install:\n%s", out)
	if err != nil {
		t.Fatalf("cardbridge install: %v", err)
	}
	return u
}

// bareUser is a user with no cardbridge installed: no host manifest.
func bareUser(t *testing.T) *userEnv {
	t.Helper()
	home := t.TempDir()
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	return &userEnv{home: home, runtime: runtime, env: userVars(home, runtime)}
}

// hostManifest reads the host manifest install wrote at rel (below HOME)
// and checks it against the contract.
func (u *userEnv) hostManifest(t *testing.T, rel string, browserKey string, want string) {
	t.Helper()
	path := filepath.Join(u.home, rel, nativemsg.HostName+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cardbridge install wrote no host manifest: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if m["name"] != nativemsg.HostName || m["type"] != "stdio" {
		t.Errorf("%s: %s", path, b)
	}
	list, _ := m[browserKey].([]any)
	if len(list) != 1 || list[0] != want {
		t.Errorf("%s: %s = %v, want [%s]", path, browserKey, m[browserKey], want)
	}
	hostPath, _ := m["path"].(string)
	if fi, err := os.Stat(hostPath); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s: path %q is not an executable (%v)", path, hostPath, err)
	}
}

// serveRelay serves w's daemon to the hosts of user u, on the relay socket
// a host started in u's environment dials.
func serveRelay(t *testing.T, w *world, u *userEnv) {
	t.Helper()
	path := filepath.Join(u.runtime, "cardbridge", "relay.sock")
	ln, err := nativemsg.ListenRelay(path, testLogger(t).With("side", "relay"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		nativemsg.ServeRelay(ctx, w.server.Core(), ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestExtensionChromium runs the whole registration flow, both card
// profiles, in headless Chromium with the extension and no Local Network
// Access permission; the portal's server validates the login token and the
// signature (checkFlow).
func TestExtensionChromium(t *testing.T) {
	tl := requireBrowser(t)
	rig.Require(t)
	ext, err := filepath.Abs(filepath.Join("..", "web", "extension"))
	if err != nil {
		t.Fatal(err)
	}
	for _, profile := range []sim.Profile{sim.ProfileECC, sim.ProfileRSA} {
		t.Run(profile.String(), func(t *testing.T) {
			u := newUser(t)
			u.hostManifest(t, ".config/chromium/NativeMessagingHosts", "allowed_origins", nativemsg.ChromeOrigin)
			w, card := startPublicRigWorld(t, profile)
			serveRelay(t, w, u)
			// The browser's profile is the user's default Chromium profile,
			// $HOME/.config/chromium: Chromium on Linux looks for per-user
			// host manifests in <user-data-dir>/NativeMessagingHosts, so a
			// profile elsewhere would not see what install wrote.
			lang := profileLanguages[profile]
			env := slices.Concat(u.env, publicEnv(t, w), []string{"EXTENSION=" + ext, "USER_DATA=" + filepath.Join(u.home, ".config", "chromium"), "LOCALE=" + lang.locale})
			res := runFlowScript(t, tl, w, "transport-flow.mjs", "extension-"+profile.String(), env...)
			checkFlow(t, w, card, lang, res)
			checkTransport(t, res, "extension")
		})
	}
}

// TestExtensionChromiumErrors: through the extension the page gets the
// same error codes as over the WebSocket, named by the extension and the
// host rather than guessed: no host installed is "not running" (with the
// downloads), a consent refused in cardbridge's dialog is CONSENT_DENIED.
func TestExtensionChromiumErrors(t *testing.T) {
	tl := requireBrowser(t)
	rig.Require(t)
	ext, err := filepath.Abs(filepath.Join("..", "web", "extension"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		install  bool
		wantCode string
		dialogs  []string
	}{
		{"host not installed", false, "DAEMON_UNAVAILABLE", nil},
		{"consent denied", true, "CONSENT_DENIED", []string{"consent/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := &bridgetest.Prompter{}
			pr.AllowConsent(bridge.Deny)
			w, _ := startPublicRigWorldWith(t, sim.ProfileECC, func(c *bridge.Config) { c.Prompter = pr })
			var u *userEnv
			if tc.install {
				u = newUser(t)
			} else {
				u = bareUser(t)
			}
			serveRelay(t, w, u)
			env := slices.Concat(u.env, publicEnv(t, w), []string{"EXTENSION=" + ext, "USER_DATA=" + filepath.Join(u.home, ".config", "chromium"), "EXPECT_SERVICE_ERROR=1"})
			res := runFlowScript(t, tl, w, "transport-flow.mjs", "extension-error-"+strings.ReplaceAll(tc.name, " ", "-"), env...)
			if res.ServiceError != tc.wantCode || res.Transport != "extension" {
				t.Errorf("page shows %s %q over %q, want %s over the extension", res.ServiceError, res.Service, res.Transport, tc.wantCode)
			}
			if len(res.Problems) > 0 {
				t.Errorf("page errors: %q", res.Problems)
			}
			var kinds []string
			for _, c := range w.prompter.Calls() {
				kinds = append(kinds, c.Kind.String()+"/"+c.Purpose)
			}
			if !slices.Equal(kinds, tc.dialogs) {
				t.Errorf("dialogs %v, want %v", kinds, tc.dialogs)
			}
		})
	}
}

// firefoxResult is what firefox-flow.mjs prints.
type firefoxResult struct {
	Browser     string   `json:"browser"`
	ExtensionID string   `json:"extensionId"`
	Service     string   `json:"service"`
	Transport   string   `json:"transport"`
	Reader      string   `json:"reader"`
	Login       string   `json:"login"`
	Problems    []string `json:"problems"`
}

// TestExtensionFirefox logs in to the portal in Debian's Firefox ESR
// through the extension (its Firefox build, installed as a temporary
// add-on over WebDriver BiDi) and the host that `cardbridge install`
// registered in ~/.mozilla/native-messaging-hosts.
func TestExtensionFirefox(t *testing.T) {
	tl := requireBrowser(t)
	firefox := os.Getenv("FIREFOX")
	if firefox == "" {
		firefox = "/usr/bin/firefox-esr"
	}
	var missing []string
	if _, err := os.Stat(firefox); err != nil {
		missing = append(missing, "firefox-esr ("+firefox+"; apt-get install -y firefox-esr)")
	}
	if _, err := os.Stat(filepath.Join("..", "web", "node_modules", "puppeteer-core", "package.json")); err != nil {
		missing = append(missing, "puppeteer-core (cd web && npm ci)")
	}
	if len(missing) > 0 {
		msg := "FIREFOX TEST NOT RUN: missing " + strings.Join(missing, ", ")
		if os.Getenv("CARDBRIDGE_E2E") == "required" {
			t.Fatal(msg)
		}
		t.Skip("\n\n*** " + msg + " ***\n")
	}
	rig.Require(t)

	u := newUser(t)
	u.hostManifest(t, ".mozilla/native-messaging-hosts", "allowed_extensions", nativemsg.FirefoxExtensionID)
	w, card := startPublicRigWorld(t, sim.ProfileECC)
	serveRelay(t, w, u)

	// Firefox's build of the extension (background script instead of a
	// service worker, the gecko id).
	extDir := t.TempDir()
	build := exec.Command(tl.node, filepath.Join("..", "web", "extension", "build.mjs"), "firefox", extDir)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.mjs firefox: %v\n%s", err, out)
	}

	var res firefoxResult
	runScript(t, tl, w, "firefox-flow.mjs", "firefox-extension", &res,
		slices.Concat(u.env, []string{"EXTENSION=" + extDir, "PROFILE=" + t.TempDir(), "FIREFOX=" + firefox, "LOCALE=" + english.locale})...)

	if res.ExtensionID != nativemsg.FirefoxExtensionID {
		t.Errorf("installed add-on id %q, want %s", res.ExtensionID, nativemsg.FirefoxExtensionID)
	}
	if res.Transport != "extension" {
		t.Errorf("page used transport %q (service line %q), want extension", res.Transport, res.Service)
	}
	id := card.Person().Identity
	if !strings.Contains(res.Login, english.loggedIn) || !strings.Contains(res.Login, id.GivenNames+" "+id.Surname) {
		t.Errorf("login line %q", res.Login)
	}
	if len(res.Problems) > 0 {
		t.Errorf("page errors: %q", res.Problems)
	}
	logins := w.portal.Logins()
	if len(logins) != 1 || !logins[0].Certificate.Equal(card.AuthCert()) {
		t.Fatalf("portal recorded logins %+v", logins)
	}
	// The daemon asked about the origin the browser reported, then for the
	// PIN.
	var kinds []string
	for _, c := range w.prompter.Calls() {
		kinds = append(kinds, c.Kind.String()+"/"+c.Purpose)
		if c.Origin != w.origin {
			t.Errorf("%v dialog showed origin %q, want %q", c.Kind, c.Origin, w.origin)
		}
	}
	if got := strings.Join(kinds, " "); got != "consent/ pin/authenticate" {
		t.Errorf("dialogs %s, want consent/ pin/authenticate", got)
	}
}
