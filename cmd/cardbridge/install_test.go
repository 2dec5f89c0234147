//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallCommands runs install, status and uninstall --purge against
// a throw-away home directory, the way a user would from a terminal.
func TestInstallCommands(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("SUDO_USER", "")
	ctx := context.Background()
	run := func(f func(context.Context, []string, io.Writer, io.Writer) error, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := f(ctx, args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errb.String())
		}
		return out.String()
	}
	out := run(runInstall)
	if !strings.Contains(out, filepath.Join(home, ".config/systemd/user/cardbridge.service")) {
		t.Errorf("install output:\n%s", out)
	}
	unit, err := os.ReadFile(filepath.Join(home, ".config/systemd/user/cardbridge.service"))
	if err != nil || !strings.Contains(string(unit), "ExecStart="+filepath.Join(home, ".local/bin/cardbridge")+` "run"`) {
		t.Fatalf("unit: %v\n%s", err, unit)
	}
	// A config file sets the port status probes.
	os.MkdirAll(filepath.Join(home, ".config/cardbridge"), 0o700)
	os.WriteFile(filepath.Join(home, ".config/cardbridge/config.json"), []byte(`{"port":1}`), 0o600)
	out = run(runStatus)
	if !strings.Contains(out, "installed:          yes") || !strings.Contains(out, "listening on 1 ") {
		t.Errorf("status output:\n%s", out)
	}
	run(runUninstall, "--purge")
	var left []string
	filepath.WalkDir(home, func(p string, _ os.DirEntry, _ error) error {
		if p != home {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("uninstall --purge left %q", left)
	}
}
