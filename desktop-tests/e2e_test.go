//go:build linux

package desktoptests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
	"github.com/cardbridge/cardbridge/config"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/prompt"
	"github.com/cardbridge/cardbridge/tray"
)

const origin = "https://registration.smart-id.example"

func need(t *testing.T) {
	t.Helper()
	var missing []string
	for _, v := range []string{"DISPLAY", "DBUS_SESSION_BUS_ADDRESS"} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	for _, tool := range []string{"zenity", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CARDBRIDGE_DESKTOP") == "required" {
		t.Fatalf("CARDBRIDGE_DESKTOP=required but %v missing", missing)
	}
	t.Skipf("desktop end-to-end test: %v missing (run tray/ci.sh)", missing)
}

func window(t *testing.T, title string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--name", title).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			time.Sleep(300 * time.Millisecond)
			return ids[0]
		}
	}
	t.Fatalf("no window %q", title)
	return ""
}

func xdo(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("xdotool", args...).CombinedOutput(); err != nil {
		t.Fatalf("xdotool %v: %v %s", args, err, out)
	}
}

func screenshot(t *testing.T, name string) {
	dir := os.Getenv("CARDBRIDGE_SCREENSHOTS")
	if dir == "" {
		return
	}
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("import", "-window", "root", filepath.Join(dir, name)).CombinedOutput(); err != nil {
		t.Errorf("screenshot: %v %s", err, out)
	}
}

// page is the portal page's side of the WebSocket.
type page struct {
	t  *testing.T
	ws *websocket.Conn
	id int
}

type frame struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code string `json:"code"`
	} `json:"error"`
	Event string `json:"event"`
}

func (p *page) send(method string) int {
	p.id++
	if err := p.ws.WriteJSON(map[string]any{"id": p.id, "method": method, "params": map[string]any{}}); err != nil {
		p.t.Fatal(err)
	}
	return p.id
}

func (p *page) await(id int) frame {
	p.t.Helper()
	p.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		var f frame
		if err := p.ws.ReadJSON(&f); err != nil {
			p.t.Fatalf("reading response %d: %v", id, err)
		}
		if string(f.ID) == strconv.Itoa(id) {
			return f
		}
	}
}

// trayMenu returns the labels of the tray's menu as the tray host sees them.
func trayMenu(t *testing.T, conn *dbus.Conn) string {
	t.Helper()
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	var rev uint32
	var layout any
	call := conn.Object(name, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if err := call.Store(&rev, &layout); err != nil {
		return ""
	}
	return fmt.Sprint(layout)
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestPortalToDialogsAndTray: a page connects; the user allows the site
// for good in the native dialog; the page reads the identity; the tray then
// lists the site; the page asks to verify the PIN, which the user types in the
// native PIN dialog; and the user revokes the site from the tray menu.
func TestPortalToDialogsAndTray(t *testing.T) {
	need(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	log, logFile, err := logging.New(logging.Options{Path: filepath.Join(dir, "cardbridge.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() }) // after stop, below: the daemon logs until it ends
	store, err := config.Open(filepath.Join(dir, "config.json"), config.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readers := simreaders.New("Reader A")
	card, err := sim.New(sim.Options{PIN: "2468"})
	if err != nil {
		t.Fatal(err)
	}
	readers.Insert("Reader A", card)
	mon := tray.NewMonitor(readers, log)
	monDone := make(chan struct{})
	go func() { mon.Run(ctx); close(monDone) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv, err := bridge.New(bridge.Config{
		Port: port, Readers: mon, Consents: store, Logger: log, Version: "0.1.0-e2e",
		Prompter: prompt.New(prompt.Options{Language: "en", Logger: log}),
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	trayDone := make(chan error, 1)
	go func() {
		trayDone <- tray.Run(ctx, tray.Options{Version: "0.1.0-e2e", Port: port, Language: "en", Consents: store,
			LogPath: filepath.Join(dir, "cardbridge.log"), States: mon.States(), OnQuit: cancel, Logger: log,
			RefreshInterval: 100 * time.Millisecond})
	}()
	// stop ends everything that writes into dir (the log, the consent
	// store) and waits for it, so that nothing writes there while the
	// test's cleanup removes dir; it runs before that cleanup even when
	// the test stops early. It returns the tray's error.
	var trayErr error
	stopped := false
	stop := func() error {
		if stopped {
			return trayErr
		}
		stopped = true
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case trayErr = <-trayDone:
		case <-time.After(10 * time.Second):
			trayErr = errors.New("tray did not stop")
		}
		<-monDone
		return trayErr
	}
	t.Cleanup(func() { stop() })
	bus, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()

	// The page connects; the daemon holds the handshake while it asks the
	// user, who answers "Always allow this website".
	type dialed struct {
		ws  *websocket.Conn
		err error
	}
	dialc := make(chan dialed, 1)
	go func() {
		ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/v1", http.Header{"Origin": {origin}})
		dialc <- dialed{ws, err}
	}()
	w := window(t, "ID card access")
	screenshot(t, "e2e-consent.png")
	xdo(t, "windowfocus", "--sync", w)
	xdo(t, "key", "shift+Tab")
	xdo(t, "key", "Return")
	var d dialed
	select {
	case d = <-dialc:
	case <-time.After(20 * time.Second):
		t.Fatal("the handshake did not complete after the user allowed the site")
	}
	if d.err != nil {
		t.Fatalf("connect after consent: %v", d.err)
	}
	defer d.ws.Close()
	pg := &page{t: t, ws: d.ws}

	id := pg.send("identity")
	f := pg.await(id)
	if f.Error != nil {
		t.Fatalf("identity: %s", f.Error.Code)
	}
	var res struct {
		Identity struct {
			Surname string `json:"surname"`
		} `json:"identity"`
	}
	json.Unmarshal(f.Result, &res)
	if res.Identity.Surname != sim.DefaultPerson().Identity.Surname {
		t.Errorf("identity surname %q", res.Identity.Surname)
	}
	if !store.Allowed(origin) {
		t.Fatal("\"always\" did not reach the consent store")
	}
	eventually(t, "the origin in the tray menu", func() bool {
		return strings.Contains(trayMenu(t, bus), "Revoke "+origin)
	})

	// pin.verify → PIN dialog → the user types the PIN.
	id = pg.send("pin.verify")
	w = window(t, "PIN code")
	xdo(t, "windowfocus", "--sync", w)
	xdo(t, "type", "--delay", "40", "2468")
	screenshot(t, "e2e-pin.png")
	xdo(t, "key", "Return")
	f = pg.await(id)
	if f.Error != nil || !strings.Contains(string(f.Result), `"verified":true`) {
		t.Fatalf("pin.verify: %s %+v", f.Result, f.Error)
	}

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The PIN never reaches the log.
	if data, _ := os.ReadFile(filepath.Join(dir, "cardbridge.log")); strings.Contains(string(data), "2468") || len(data) == 0 {
		t.Errorf("log empty or holding the PIN:\n%s", data)
	}
}
