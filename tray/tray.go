// Package tray shows cardbridge's icon in the desktop's notification area:
// the daemon's state at a glance, the web origins the user has allowed
// (each revocable), the port and version, "Open log" and "Quit".
//
// It uses fyne.io/systray. On Linux that speaks the StatusNotifierItem
// D-Bus protocol (KDE, GNOME with the AppIndicator extension, Xfce,
// Cinnamon, MATE, LXQt) in pure Go, so the daemon links no GUI library;
// on Windows and macOS it uses the native APIs. See docs/desktop.md for
// why this library and not github.com/getlantern/systray.
//
// The tray toolkit wants the process's main thread on macOS and Windows:
// call Run from the main goroutine and run the daemon in others.
package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"time"

	"fyne.io/systray"

	"github.com/cardbridge/cardbridge/prompt/i18n"
)

// ErrNoTray reports that no tray can be shown (on Linux: no D-Bus session
// bus). The daemon keeps working without the icon.
var ErrNoTray = errors.New("tray: no system tray available")

// ConsentStore is the part of the bridge's consent store the tray needs.
type ConsentStore interface {
	List() []string
	Revoke(origin string) error
}

// Blocker lists the sites the user blocked ("block this site" in a
// dialog) and lifts a block; *bridge.Core is one.
type Blocker interface {
	BlockedSites() []string
	UnblockSite(site string) error
}

// Options configure Run.
type Options struct {
	Version  string
	Port     int
	Language string       // "", "en", "nl", "fr", "de"; "" follows the OS
	Consents ConsentStore // nil hides the allowed-websites menu
	Blocked  Blocker      // nil hides the blocked-websites menu
	Activity *ActivityLog // nil hides the recent-activity menu
	LogPath  string       // opened by "Open log"; empty hides the item
	// States carries state changes from the daemon; the latest one is
	// shown. It may be nil.
	States <-chan State
	// OnQuit is called when the user picks Quit, before Run returns.
	// It should stop the daemon.
	OnQuit func()
	// OpenFile opens a file with the desktop's default application;
	// nil means xdg-open, open or the Windows shell.
	OpenFile func(path string) error
	// RefreshInterval is how often the allowed-origin list is re-read;
	// 0 means 2 s. The list changes when the user answers "always" in a
	// consent dialog, which the daemon does not signal separately.
	RefreshInterval time.Duration
	Logger          *slog.Logger
}

// Run shows the tray icon and blocks until ctx is done or the user picks
// Quit. It must be called at most once per process, from the main
// goroutine. If no tray can be shown it returns an error wrapping
// ErrNoTray at once.
func Run(ctx context.Context, opts Options) error {
	if err := available(); err != nil {
		return fmt.Errorf("%w: %w", ErrNoTray, err)
	}
	t := newTray(opts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// onReady must return for the library to answer menu requests
	// (GetLayout waits for it), so the event loop gets its own goroutine.
	systray.Run(func() { go t.loop(ctx, t.build(ctx)) }, nil)
	return nil
}

// submenu is a menu item whose children are rebuilt when their labels
// change: the allowed, blocked and activity lists.
type submenu struct {
	parent, none *systray.MenuItem
	keys         []string // what each child stands for
	labels       []string
	items        []*systray.MenuItem
	clicks       chan string // a child's key when clicked; nil: children disabled
}

type tray struct {
	opts  Options
	lang  i18n.Lang
	log   *slog.Logger
	state State

	status                     *systray.MenuItem
	allowed, blocked, activity *submenu
}

func newTray(opts Options) *tray {
	if opts.OpenFile == nil {
		opts.OpenFile = openFile
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 2 * time.Second
	}
	if opts.OnQuit == nil {
		opts.OnQuit = func() {}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &tray{opts: opts, lang: i18n.Choose(opts.Language), log: log}
}

// newSubmenu adds a menu item for a list, showing "(none)" while empty.
func (t *tray) newSubmenu(titleKey string, clickable bool) *submenu {
	m := &submenu{parent: systray.AddMenuItem(t.lang.T(titleKey), "")}
	m.none = m.parent.AddSubMenuItem(t.lang.T("tray.none"), "")
	m.none.Disable()
	if clickable {
		m.clicks = make(chan string)
	}
	return m
}

// set shows one child per key, labelled label(key), when that changed.
// One click on a clickable child sends its key, with no confirmation:
// revoking and unblocking are undone by the next dialog or refusal.
func (m *submenu) set(ctx context.Context, keys, labels []string) {
	if slices.Equal(keys, m.keys) && slices.Equal(labels, m.labels) {
		return
	}
	for _, it := range m.items {
		it.Remove() // closes its ClickedCh, ending its goroutine
	}
	m.items = m.items[:0]
	m.keys, m.labels = slices.Clone(keys), slices.Clone(labels)
	for i, key := range keys {
		it := m.parent.AddSubMenuItem(labels[i], "")
		m.items = append(m.items, it)
		if m.clicks == nil {
			it.Disable()
			continue
		}
		go func() {
			for range it.ClickedCh {
				select {
				case m.clicks <- key:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	if len(keys) == 0 {
		m.none.Show()
	} else {
		m.none.Hide()
	}
}

// clicked is m's click channel; nil (never ready) for a nil submenu.
func (m *submenu) clicked() <-chan string {
	if m == nil {
		return nil
	}
	return m.clicks
}

// items are the fixed menu entries whose clicks the loop handles.
type items struct {
	openLog, quit *systray.MenuItem
}

// build creates the menu. It runs before loop starts; from then on only
// loop touches the menu, so no locking is needed.
func (t *tray) build(ctx context.Context) items {
	systray.SetTitle("cardbridge")
	t.status = systray.AddMenuItem("", "")
	t.status.Disable()
	t.setState(StateStarting)
	systray.AddSeparator()
	if t.opts.Consents != nil {
		t.allowed = t.newSubmenu("tray.allowed", true)
	}
	if t.opts.Blocked != nil {
		t.blocked = t.newSubmenu("tray.blocked", true)
	}
	if t.opts.Activity != nil {
		t.activity = t.newSubmenu("tray.activity", false)
	}
	if t.allowed != nil || t.blocked != nil || t.activity != nil {
		// Fill the lists in now: the host's first menu request waits
		// for build, and tray hosts (libdbusmenu) show submenus added
		// to a menu they already fetched less reliably.
		t.refreshLists(ctx)
		systray.AddSeparator()
	}
	port := systray.AddMenuItem(t.lang.T("tray.port", t.opts.Port), "")
	port.Disable()
	version := systray.AddMenuItem(t.lang.T("tray.version", t.opts.Version), "")
	version.Disable()
	openLog := &systray.MenuItem{ClickedCh: make(chan struct{})}
	if t.opts.LogPath != "" {
		openLog = systray.AddMenuItem(t.lang.T("tray.openlog"), t.opts.LogPath)
	}
	systray.AddSeparator()
	quit := systray.AddMenuItem(t.lang.T("tray.quit"), "")
	return items{openLog: openLog, quit: quit}
}

// loop owns the menu until ctx is done or the user quits.
func (t *tray) loop(ctx context.Context, it items) {
	defer systray.Quit()
	// ClickedCh drops clicks nobody is waiting for, so each item gets a
	// receiver that forwards to this loop.
	clicks := make(chan string)
	forward := func(name string, ch <-chan struct{}) {
		for range ch {
			select {
			case clicks <- name:
			case <-ctx.Done():
				return
			}
		}
	}
	go forward("openlog", it.openLog.ClickedCh)
	go forward("quit", it.quit.ClickedCh)

	tick := time.NewTicker(t.opts.RefreshInterval)
	defer tick.Stop()
	states := t.opts.States
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-states:
			if !ok {
				states = nil
				continue
			}
			t.setState(s)
		case <-tick.C:
			t.refreshLists(ctx)
		case origin := <-t.allowed.clicked():
			if err := t.opts.Consents.Revoke(origin); err != nil {
				t.log.Error("tray: revoking origin", "origin", origin, "err", err)
			} else {
				t.log.Info("tray: origin revoked by the user", "origin", origin)
			}
			t.refreshLists(ctx)
		case site := <-t.blocked.clicked():
			if err := t.opts.Blocked.UnblockSite(site); err != nil {
				t.log.Error("tray: unblocking site", "site", site, "err", err)
			} else {
				t.log.Info("tray: site unblocked by the user", "site", site)
			}
			t.refreshLists(ctx)
		case c := <-clicks:
			switch c {
			case "openlog":
				if err := t.opts.OpenFile(t.opts.LogPath); err != nil {
					t.log.Error("tray: opening log", "path", t.opts.LogPath, "err", err)
				}
			case "quit":
				t.log.Info("tray: quit chosen by the user")
				t.opts.OnQuit()
				return
			}
		}
	}
}

func (t *tray) setState(s State) {
	t.state = s
	systray.SetIcon(s.Icon())
	text := t.lang.T(s.messageKey())
	systray.SetTooltip("cardbridge – " + text)
	t.status.SetTitle(text)
}

// refreshLists rebuilds the allowed, blocked and activity submenus
// whose content changed: one "Revoke <origin>" item per allowed origin,
// one "Unblock <site>" per blocked site, one line per recent activity.
// (A third menu level per origin was tried first: libdbusmenu-based
// hosts such as Xfce's show such submenus empty when they are added
// after the menu was fetched.)
func (t *tray) refreshLists(ctx context.Context) {
	labelled := func(keys []string, key string) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = t.lang.T(key, k)
		}
		return out
	}
	if t.allowed != nil {
		list := t.opts.Consents.List()
		t.allowed.set(ctx, list, labelled(list, "tray.revoke"))
	}
	if t.blocked != nil {
		list := t.opts.Blocked.BlockedSites()
		t.blocked.set(ctx, list, labelled(list, "tray.unblock"))
	}
	if t.activity != nil {
		var keys, labels []string
		for i, a := range t.opts.Activity.Recent() {
			keys = append(keys, strconv.Itoa(i))
			labels = append(labels, activityLabel(t.lang, a))
		}
		t.activity.set(ctx, keys, labels)
	}
}

// openFile opens path with the desktop's default application.
func openFile(path string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", path)
	case "darwin":
		cmd = exec.Command("open", path)
	default:
		cmd = exec.Command("xdg-open", path)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tray: opening %s: %w", path, err)
	}
	go cmd.Wait() // reap; the viewer outlives us or not, we don't care
	return nil
}
