//go:build linux

package tray

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/config"
)

// menuItem is a flattened dbusmenu entry.
type menuItem struct {
	id       int32
	label    string
	enabled  bool
	children []menuItem
}

type layout = struct {
	V0 int32
	V1 map[string]dbus.Variant
	V2 []dbus.Variant
}

func parseLayout(l layout) menuItem {
	m := menuItem{id: l.V0, enabled: true}
	if v, ok := l.V1["label"]; ok {
		m.label, _ = v.Value().(string)
	}
	if v, ok := l.V1["enabled"]; ok {
		m.enabled, _ = v.Value().(bool)
	}
	for _, c := range l.V2 {
		var cl layout
		if err := dbus.Store([]any{c.Value()}, &cl); err != nil {
			continue
		}
		if v, ok := cl.V1["visible"]; ok && v.Value() == false {
			continue
		}
		if v, ok := cl.V1["type"]; ok && v.Value() == "separator" {
			continue
		}
		m.children = append(m.children, parseLayout(cl))
	}
	return m
}

func (m menuItem) find(path ...string) (menuItem, bool) {
	if len(path) == 0 {
		return m, true
	}
	for _, c := range m.children {
		if c.label == path[0] {
			return c.find(path[1:]...)
		}
	}
	return menuItem{}, false
}

func (m menuItem) labels() []string {
	var out []string
	for _, c := range m.children {
		out = append(out, c.label)
	}
	return out
}

// TestTrayOverDBus runs the real tray against a D-Bus session bus and
// drives it the way a tray host does: it reads the menu through
// com.canonical.dbusmenu, clicks items, and watches the
// StatusNotifierItem properties. Run it under `dbus-run-session`.
func TestTrayOverDBus(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("CARDBRIDGE_DESKTOP") == "required" {
			t.Fatal("CARDBRIDGE_DESKTOP=required but no D-Bus session bus; run under dbus-run-session")
		}
		t.Skip("no D-Bus session bus; run under dbus-run-session (tray/ci.sh does)")
	}
	dir := t.TempDir()
	store, err := config.Open(filepath.Join(dir, config.FileName), config.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store.Allow("https://portal.example")
	store.Allow("https://other.example")
	store.Block("https://evil.example")
	activity := NewActivityLog(0)
	activity.Record(bridge.Activity{Time: time.Now(), Origin: "https://portal.example", Action: bridge.ActionIdentity})

	states := make(chan State)
	var mu sync.Mutex
	var opened []string
	quit := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Version: "1.2.3", Port: 27183, Language: "en", Consents: store,
			Blocked: storeBlocker{store}, Activity: activity,
			LogPath: "/tmp/x/cardbridge.log", States: states,
			OnQuit:          func() { close(quit) },
			OpenFile:        func(p string) error { mu.Lock(); opened = append(opened, p); mu.Unlock(); return nil },
			RefreshInterval: 50 * time.Millisecond,
		})
	}()

	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	eventually(t, "tray name on the bus", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		return has
	})
	menuObj := conn.Object(name, "/StatusNotifierItem/menu")
	item := conn.Object(name, "/StatusNotifierItem")
	getMenu := func() menuItem {
		var rev uint32
		var l layout
		if err := menuObj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l); err != nil {
			t.Fatalf("GetLayout: %v", err)
		}
		return parseLayout(l)
	}
	click := func(m menuItem) {
		t.Helper()
		if err := menuObj.Call("com.canonical.dbusmenu.Event", 0, m.id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
			t.Fatalf("Event: %v", err)
		}
	}
	var root menuItem
	eventually(t, "full menu", func() bool {
		root = getMenu() // the library answers depth 1 the first time
		_, ok := root.find("Allowed websites", "Revoke https://other.example")
		return ok
	})
	want := []string{"Starting…", "Allowed websites", "Blocked websites", "Recent activity", "Listening on 127.0.0.1:27183", "cardbridge 1.2.3", "Open log", "Quit"}
	if got := root.labels(); !slices.Equal(got, want) {
		t.Fatalf("menu %q, want %q", got, want)
	}
	if st, _ := root.find("Starting…"); st.enabled {
		t.Error("status line is clickable")
	}
	if got, _ := root.find("Allowed websites"); !slices.Equal(got.labels(), []string{"Revoke https://portal.example", "Revoke https://other.example"}) {
		t.Errorf("allowed origins %q", got.labels())
	}

	// The activity list tells what sites did, and cannot be clicked.
	acts, _ := root.find("Recent activity")
	if len(acts.children) != 1 || !strings.HasSuffix(acts.children[0].label, "https://portal.example read your identity") || acts.children[0].enabled {
		t.Errorf("activity %+v", acts.children)
	}
	activity.Record(bridge.Activity{Time: time.Now(), Origin: "https://portal.example", Action: bridge.ActionSign})
	eventually(t, "new activity in the menu", func() bool {
		m, _ := getMenu().find("Recent activity")
		return len(m.children) == 2 && strings.HasSuffix(m.children[0].label, "signed a document")
	})
	// A blocked site is listed, and one click unblocks it.
	ub, ok := getMenu().find("Blocked websites", "Unblock https://evil.example")
	if !ok {
		t.Fatalf("blocked site not in the menu: %+v", getMenu())
	}
	click(ub)
	eventually(t, "unblocking", func() bool { return !store.Blocked("https://evil.example") })
	eventually(t, "(none) blocked", func() bool {
		m, _ := getMenu().find("Blocked websites")
		return slices.Equal(m.labels(), []string{"(none)"})
	})

	// State changes update the status line, tooltip and icon.
	states <- StateCardPresent
	eventually(t, "tooltip for card present", func() bool {
		v, err := item.GetProperty("org.kde.StatusNotifierItem.ToolTip")
		return err == nil && strings.Contains(fmt.Sprint(v.Value()), "ID card present")
	})
	eventually(t, "status line", func() bool { _, ok := getMenu().find("ID card present"); return ok })
	v, err := item.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
	if err != nil || !strings.HasPrefix(fmt.Sprint(v.Value()), "[[64 64 ") {
		t.Errorf("IconPixmap = %.40v, %v", v.Value(), err)
	}

	// Revoking from the menu revokes in the store and updates the menu.
	rv, _ := getMenu().find("Allowed websites", "Revoke https://portal.example")
	click(rv)
	eventually(t, "revocation", func() bool { return !store.Allowed("https://portal.example") })
	eventually(t, "menu without the revoked origin", func() bool {
		m, _ := getMenu().find("Allowed websites")
		return slices.Equal(m.labels(), []string{"Revoke https://other.example"})
	})
	if !store.Allowed("https://other.example") {
		t.Error("the other origin was revoked too")
	}
	// An origin allowed meanwhile (consent "always") appears.
	store.Allow("https://new.example")
	eventually(t, "new origin in menu", func() bool { _, ok := getMenu().find("Allowed websites", "Revoke https://new.example"); return ok })
	// With no origin left the menu says so.
	store.Revoke("https://other.example")
	store.Revoke("https://new.example")
	eventually(t, "(none)", func() bool {
		m, _ := getMenu().find("Allowed websites")
		return slices.Equal(m.labels(), []string{"(none)"})
	})

	ol, _ := getMenu().find("Open log")
	click(ol)
	eventually(t, "log opened", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(opened) == 1 && opened[0] == "/tmp/x/cardbridge.log"
	})

	q, _ := getMenu().find("Quit")
	click(q)
	select {
	case <-quit:
	case <-time.After(10 * time.Second):
		t.Fatal("OnQuit not called")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Quit")
	}
}

// storeBlocker is the tray's Blocker over the config store, as the
// daemon's core is over its consent store.
type storeBlocker struct{ s *config.Store }

func (b storeBlocker) BlockedSites() []string        { return b.s.BlockedSites() }
func (b storeBlocker) UnblockSite(site string) error { return b.s.Unblock(site) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
