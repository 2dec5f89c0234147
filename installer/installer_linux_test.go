//go:build linux

package installer

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree lists every path under root with its type and, for files and
// links, content or target.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// throwAwayHome points HOME and the XDG variables at a new temporary
// directory for the test, and returns a fake cardbridge binary outside it.
func throwAwayHome(t *testing.T) (home, exe string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("SUDO_USER", "")
	exe = filepath.Join(t.TempDir(), "cardbridge")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return home, exe
}

// healthServer answers GET /v1/health like the daemon does.
func healthServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"protocol":1}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestInstallStatusUninstallLinux(t *testing.T) {
	home, exe := throwAwayHome(t)
	if managerRunning(context.Background()) {
		t.Skip("a systemd user manager answers even with a throw-away HOME; this test wants the offline path")
	}
	ctx := context.Background()
	port := healthServer(t)
	cfg := Config{Executable: exe, CopyBinary: true, Port: port,
		SmartCardCheck: func(context.Context) error { return nil }}
	before := tree(t, home)

	res, err := Install(ctx, cfg)
	if err != nil {
		t.Fatalf("Install: %v\n%s", err, res)
	}
	unit := filepath.Join(home, ".config/systemd/user/cardbridge.service")
	bin := filepath.Join(home, ".local/bin/cardbridge")
	if res.Registration != unit || res.Executable != bin || !res.Changed || res.Started {
		t.Errorf("result: %+v", res)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "next login") }) {
		t.Errorf("no note that systemd is not running: %q", res.Notes)
	}
	want := []string{
		".config/", ".config/cardbridge/", ".config/cardbridge/installed-dirs",
		".config/systemd/", ".config/systemd/user/",
		".config/systemd/user/cardbridge.service",
		".config/systemd/user/default.target.wants/",
		".config/systemd/user/default.target.wants/cardbridge.service -> " + unit,
		".local/", ".local/bin/", ".local/bin/cardbridge",
	}
	if got := tree(t, home); !slices.Equal(got, want) {
		t.Fatalf("after install:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	text, _ := os.ReadFile(unit)
	for _, line := range []string{"ExecStart=" + bin + ` "run"`, "WantedBy=default.target", "ConditionFileIsExecutable=" + bin} {
		if !strings.Contains(string(text), line+"\n") {
			t.Errorf("unit lacks %q:\n%s", line, text)
		}
	}
	verifyUnit(t, home, unit)

	// Twice is harmless: same files, nothing changed.
	res, err = Install(ctx, cfg)
	if err != nil || res.Changed {
		t.Fatalf("second Install: %v, %+v", err, res)
	}
	if got := tree(t, home); !slices.Equal(got, want) {
		t.Fatalf("second install changed the tree:\n%s", strings.Join(got, "\n"))
	}

	st, err := CheckStatus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Installed || st.Executable != bin || !st.ExecutableOK || !st.Listening || !st.SmartCard ||
		!strings.Contains(st.Service, "not running") {
		t.Errorf("status:\n%s", st)
	}

	res, err = Uninstall(ctx, cfg, false)
	if err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if len(res.Removed) != 4 {
		t.Errorf("removed %q", res.Removed)
	}
	if got := tree(t, home); !slices.Equal(got, before) {
		t.Fatalf("uninstall left:\n%s", strings.Join(got, "\n"))
	}
	res, err = Uninstall(ctx, cfg, false)
	if err != nil || res.Changed {
		t.Fatalf("second Uninstall: %v %+v", err, res)
	}
	st, _ = CheckStatus(ctx, Config{Executable: exe, Port: port, SmartCardCheck: func(context.Context) error { return errors.New("down") }})
	if st.Installed || st.SmartCard {
		t.Errorf("status after uninstall:\n%s", st)
	}
}

// verifyUnit runs `systemd-analyze --user verify` on the unit. It needs no
// running systemd: a throw-away XDG_RUNTIME_DIR is enough for it to load
// the unit in user mode, check its syntax and that ExecStart is
// executable.
func verifyUnit(t *testing.T, home, unit string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CARDBRIDGE_DESKTOP") == "required" {
			t.Fatal("systemd-analyze not found (Debian package systemd)")
		}
		t.Log("systemd-analyze not found; unit not verified")
		return
	}
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	cmd := exec.Command(sa, "--user", "verify", unit)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+rt)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze --user verify: %v\n%s", err, out)
	}
}

func TestInstallNoCopyForSystemBinary(t *testing.T) {
	home, _ := throwAwayHome(t)
	res, err := Install(context.Background(), Config{Executable: "/usr/bin/env", CopyBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Executable != "/usr/bin/env" {
		t.Errorf("system binary copied to %s", res.Executable)
	}
	if _, err := os.Stat(filepath.Join(home, ".local/bin")); err == nil {
		t.Error("~/.local/bin created for a system binary")
	}
	Uninstall(context.Background(), Config{}, false)
	if got := tree(t, home); len(got) != 0 {
		t.Errorf("left: %q", got)
	}
}

func TestUninstallPurge(t *testing.T) {
	home, exe := throwAwayHome(t)
	cfgPath := filepath.Join(home, ".config/cardbridge/config.json")
	logPath := filepath.Join(home, ".local/state/cardbridge/cardbridge.log")
	for _, p := range []string{cfgPath, cfgPath + ".corrupt-x", logPath, logPath + ".1"} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("x"), 0o600)
	}
	cfg := Config{Executable: exe, CopyBinary: true, ConfigPath: cfgPath, LogPath: logPath}
	if _, err := Install(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// Without purge the user's data stays.
	if _, err := Uninstall(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfgPath); err != nil {
		t.Fatal("config removed without --purge")
	}
	if _, err := Uninstall(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
	// The directories that held the data were there before Install (made
	// above, as the daemon makes them when it first runs): they stay.
	if got, want := tree(t, home), []string{".config/", ".local/", ".local/state/"}; !slices.Equal(got, want) {
		t.Errorf("purge left %q, want %q", got, want)
	}
}

// Directories that were there before Install, even empty, are the user's:
// Uninstall removes only those Install created.
func TestUninstallKeepsDirectoriesItDidNotCreate(t *testing.T) {
	home, exe := throwAwayHome(t)
	for _, d := range []string{".local/bin", ".config/systemd/user"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := tree(t, home)
	cfg := Config{Executable: exe, CopyBinary: true, SmartCardCheck: func(context.Context) error { return nil }}
	if _, err := Install(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// A second install records nothing new and forgets nothing.
	if _, err := Install(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := Uninstall(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, home); !slices.Equal(got, before) {
		t.Errorf("uninstall left %q, want %q", got, before)
	}
}

func TestInstallReplacesStaleUnit(t *testing.T) {
	home, exe := throwAwayHome(t)
	unit := filepath.Join(home, ".config/systemd/user/cardbridge.service")
	os.MkdirAll(filepath.Dir(unit), 0o755)
	os.WriteFile(unit, []byte("[Service]\nExecStart=/old/path run\n"), 0o644)
	res, err := Install(context.Background(), Config{Executable: exe})
	if err != nil || !res.Changed {
		t.Fatalf("%v %+v", err, res)
	}
	if got := execStart(unit); got != exe {
		t.Errorf("ExecStart %q, want %q", got, exe)
	}
}

func TestInstallWithoutRights(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	home, exe := throwAwayHome(t)
	os.Chmod(home, 0o500)
	defer os.Chmod(home, 0o700)
	_, err := Install(context.Background(), Config{Executable: exe, CopyBinary: true})
	if !errors.Is(err, ErrNoPermission) || !strings.Contains(err.Error(), "without sudo") {
		t.Fatalf("err = %v", err)
	}
}

func TestHealthRejectsOtherServers(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })}
	go srv.Serve(ln)
	defer srv.Close()
	if err := Health(context.Background(), ln.Addr().(*net.TCPAddr).Port); err == nil || !strings.Contains(err.Error(), "not like cardbridge") {
		t.Errorf("foreign server accepted: %v", err)
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()
	if err := Health(context.Background(), port); err == nil {
		t.Error("closed port accepted")
	}
}

func TestSmartCardSocketCheck(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "pcscd.comm")
	t.Setenv("PCSCLITE_CSOCK_NAME", sock)
	if err := smartCardServiceUp(context.Background()); err == nil || !strings.Contains(err.Error(), "pcscd is not running") {
		t.Errorf("missing socket: %v", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := smartCardServiceUp(context.Background()); err != nil {
		t.Errorf("listening socket: %v", err)
	}
}

// A cardbridge in ~/.local/bin that the registration does not start is
// not Install's copy (the user put it there, or installed with --no-copy
// from elsewhere): Uninstall must leave it alone.
func TestUninstallKeepsForeignUserBinary(t *testing.T) {
	home, exe := throwAwayHome(t)
	mine := filepath.Join(home, ".local/bin/cardbridge")
	os.MkdirAll(filepath.Dir(mine), 0o755)
	if err := os.WriteFile(mine, []byte("#!/bin/sh\necho user's own\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Nothing installed at all.
	if _, err := Uninstall(context.Background(), Config{Executable: exe}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("uninstall without an installation removed %s", mine)
	}
	// Installed in place (--no-copy) from elsewhere.
	if _, err := Install(context.Background(), Config{Executable: exe}); err != nil {
		t.Fatal(err)
	}
	res, err := Uninstall(context.Background(), Config{Executable: exe}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil || slices.Contains(res.Removed, mine) {
		t.Fatalf("uninstall removed %s, which install did not create (removed %q)", mine, res.Removed)
	}
}
