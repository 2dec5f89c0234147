package prompt

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// graphicalVars are what a dialog program needs to reach the user's
// display.
var graphicalVars = []string{"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_CURRENT_DESKTOP", "XDG_SESSION_TYPE"}

// importSessionEnv fills in the display variables from the systemd user
// manager when this process has none.
//
// Why: the systemd user unit starts the daemon at login (default.target),
// often before the desktop has exported DISPLAY or WAYLAND_DISPLAY to the
// manager (desktops do that with `systemctl --user import-environment` or
// dbus-update-activation-environment). The daemon's own environment then
// never gets them, and zenity could not open a window. Asking the manager
// at dialog time picks up what the desktop exported since. This sets the
// variables in the process environment, which the dialog processes
// inherit; it changes nothing when a display variable is already set.
func importSessionEnv(ctx context.Context, getenv func(string) string, setenv func(string, string) error,
	show func(context.Context) ([]byte, error)) {
	if runtime.GOOS != "linux" || getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != "" {
		return
	}
	out, err := show(ctx)
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte("="))
		if !ok {
			continue
		}
		for _, name := range graphicalVars {
			if string(k) == name && getenv(name) == "" {
				setenv(name, string(v))
			}
		}
	}
}

// systemdShowEnvironment asks the user manager for its environment.
func systemdShowEnvironment(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "systemctl", "--user", "show-environment").Output()
}

func importSessionEnvOS(ctx context.Context) {
	importSessionEnv(ctx, os.Getenv, os.Setenv, systemdShowEnvironment)
}
