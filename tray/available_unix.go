//go:build unix && !darwin

package tray

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/godbus/dbus/v5"
)

// available checks for a D-Bus session bus, without which
// fyne.io/systray on Linux can show nothing (and fails on exit). Whether a
// StatusNotifierWatcher (the tray host) runs is not required: the library
// registers with one that appears later.
func available() error {
	// Check the usual addresses first so that godbus does not
	// autolaunch a private bus nobody else would see.
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		rt := os.Getenv("XDG_RUNTIME_DIR")
		if _, err := os.Stat(filepath.Join(rt, "bus")); rt == "" || err != nil {
			return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus)")
		}
	}
	if _, err := dbus.SessionBus(); err != nil {
		return fmt.Errorf("connecting to the D-Bus session bus: %w", err)
	}
	return nil
}
