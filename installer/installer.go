// Package installer registers cardbridge to start with the user's desktop
// session, removes that registration, and reports its state.
//
// Per platform:
//   - Linux: a systemd user unit (~/.config/systemd/user/cardbridge.service,
//     WantedBy=default.target), written through github.com/kardianos/service
//     with UserService set. Works when systemd is not running (the unit is
//     enabled offline and starts at the next login).
//   - macOS: a LaunchAgent (~/Library/LaunchAgents/cardbridge.plist) through
//     kardianos/service, RunAtLoad and KeepAlive.
//   - Windows: a value under HKCU\Software\Microsoft\Windows\CurrentVersion\Run,
//     not a Windows service: services run in session 0, which has no
//     desktop, so they can show neither the tray icon nor the PIN dialog.
//
// Every operation is idempotent: installing twice leaves one registration,
// uninstalling what is not installed succeeds.
package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the daemon's default localhost port.
const DefaultPort = 27183

// ErrNoPermission wraps failures caused by missing rights, with a hint.
var ErrNoPermission = errors.New("installer: permission denied")

// ErrUnsupported is returned on platforms without an implementation.
var ErrUnsupported = errors.New("installer: unsupported platform")

// Config describes what to register.
type Config struct {
	// Name of the unit, agent or Run value; default "cardbridge".
	Name string
	// Executable is the binary to start; default os.Executable().
	Executable string
	// Args are passed to it; default ["run"].
	Args []string
	// CopyBinary copies Executable into the per-user program directory
	// (UserBinPath) and registers the copy, so that the registration does
	// not depend on where the user downloaded the program. It is skipped
	// for binaries installed system-wide (under /usr or /opt), which a
	// package manager owns.
	CopyBinary bool
	// Port is where Status looks for the running daemon; default 27183.
	Port int
	// SmartCardCheck reports whether the OS smart card service answers;
	// nil means the platform default (pcscd's socket on Linux, the
	// SCardSvr service on Windows).
	SmartCardCheck func(ctx context.Context) error
	// ConfigPath and LogPath are removed by Uninstall with purge; empty
	// means nothing is purged there.
	ConfigPath, LogPath string
	// NativeMessaging also registers the program as the browser
	// extension's native-messaging host (NativeHosts) for the user's
	// Chrome, Chromium, Edge and Firefox. Uninstall and Status always
	// handle the manifests.
	NativeMessaging bool
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "cardbridge"
	}
	if c.Args == nil {
		c.Args = []string{"run"}
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.SmartCardCheck == nil {
		c.SmartCardCheck = smartCardServiceUp
	}
	if c.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("installer: locating own executable: %w", err)
		}
		c.Executable = exe
	}
	exe, err := filepath.Abs(c.Executable)
	if err != nil {
		return c, fmt.Errorf("installer: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	c.Executable = exe
	return c, nil
}

// Result tells what Install or Uninstall did, for the user.
type Result struct {
	// Path of the unit file, LaunchAgent plist or registry value.
	Registration string
	// Executable the registration starts.
	Executable string
	// Changed is false when nothing had to be done.
	Changed bool
	// Started is true when the daemon was started (or restarted) now.
	Started bool
	// Notes are messages for the user, e.g. "systemd is not running".
	Notes []string
	// Removed lists files removed by Uninstall.
	Removed []string
	// NativeHosts lists the browsers' host manifests written.
	NativeHosts []string
}

func (r *Result) String() string {
	var b strings.Builder
	if r.Registration != "" {
		fmt.Fprintf(&b, "registration: %s\n", r.Registration)
	}
	if r.Executable != "" {
		fmt.Fprintf(&b, "executable:   %s\n", r.Executable)
	}
	for _, h := range r.NativeHosts {
		fmt.Fprintf(&b, "browser host: %s\n", h)
	}
	for _, p := range r.Removed {
		fmt.Fprintf(&b, "removed:      %s\n", p)
	}
	if !r.Changed {
		b.WriteString("nothing to change\n")
	}
	if r.Started {
		b.WriteString("started now\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// Status is the state Status found.
type Status struct {
	Installed    bool
	Registration string // where, if installed
	Executable   string // what it starts, if known
	ExecutableOK bool   // Executable exists and is executable
	// Service is the service manager's view: "running", "stopped",
	// or "unknown" with the reason in Notes.
	Service string
	// Listening is true when GET /v1/health on 127.0.0.1:Port answered
	// like cardbridge.
	Listening bool
	Port      int
	ListenErr error
	// SmartCard is true when the OS smart card service answered.
	SmartCard    bool
	SmartCardErr error
	// NativeHosts is the state of each browser's host manifest.
	NativeHosts []NativeHostState
	Notes       []string
}

func (s *Status) String() string {
	var b strings.Builder
	yesNo := func(ok bool, err error) string {
		if ok {
			return "yes"
		}
		if err != nil {
			return "no (" + err.Error() + ")"
		}
		return "no"
	}
	fmt.Fprintf(&b, "installed:          %s\n", yesNo(s.Installed, nil))
	if s.Installed {
		fmt.Fprintf(&b, "registration:       %s\n", s.Registration)
		if s.Executable != "" {
			ok := ""
			if !s.ExecutableOK {
				ok = " (MISSING or not executable)"
			}
			fmt.Fprintf(&b, "executable:         %s%s\n", s.Executable, ok)
		}
	}
	fmt.Fprintf(&b, "service:            %s\n", s.Service)
	fmt.Fprintf(&b, "listening on %-5d  %s\n", s.Port, yesNo(s.Listening, s.ListenErr))
	fmt.Fprintf(&b, "smart card service: %s\n", yesNo(s.SmartCard, s.SmartCardErr))
	b.WriteString(nativeHostsString(s.NativeHosts))
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// Install registers the daemon to start at login and, where the service
// manager runs, starts it now.
func Install(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	manifest, err := manifestPath(cfg.Name)
	if err != nil {
		return nil, err
	}
	// Note before writing anything which directories do not exist yet, so
	// that Uninstall removes those and leaves the user's own.
	want := append(registrationDirs(cfg), filepath.Dir(manifest))
	if cfg.NativeMessaging {
		want = append(want, nativeHostDirs()...)
	}
	if cfg.CopyBinary && !systemOwned(cfg.Executable) {
		if dst, err := UserBinPath(cfg.Name); err == nil {
			want = append(want, filepath.Dir(dst))
		}
	}
	created := missingDirs(want...)
	if os.Getenv("SUDO_USER") != "" {
		res.Notes = append(res.Notes, "running under sudo: installing for root, not for "+os.Getenv("SUDO_USER")+
			"; run `cardbridge install` as the desktop user instead")
	}
	if cfg.CopyBinary && !systemOwned(cfg.Executable) {
		dst, err := UserBinPath(cfg.Name)
		if err != nil {
			return nil, err
		}
		if dst != cfg.Executable {
			changed, err := copyExecutable(cfg.Executable, dst)
			if err != nil {
				return nil, err
			}
			res.Changed = res.Changed || changed
			cfg.Executable = dst
		}
	}
	res.Executable = cfg.Executable
	err = install(ctx, cfg, res)
	if cfg.NativeMessaging {
		err = errors.Join(err, writeNativeHosts(cfg.Executable, res))
	}
	// Record even after a failure: the directories made so far are ours.
	var made []string
	for _, d := range created {
		if _, err := os.Lstat(d); err == nil {
			made = append(made, d)
		}
	}
	if merr := recordCreated(manifest, made); err == nil {
		err = merr
	}
	return res, err
}

// Uninstall removes the registration and every file Install created (the
// unit or agent, its enablement link, the per-user copy of the binary).
// With purge it also removes the user's config (allowed origins) and logs.
func Uninstall(ctx context.Context, cfg Config, purge bool) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var errs []error
	manifest, err := manifestPath(cfg.Name)
	if err != nil {
		return nil, err
	}
	created := readManifest(manifest)
	// Decide before the registration is gone whether the per-user copy
	// is Install's: on Linux it sits in ~/.local/bin, shared with the
	// user's own programs.
	dst, err := UserBinPath(cfg.Name)
	ownCopy := err == nil && ownsUserBinary(cfg, dst)
	if err := uninstall(ctx, cfg, res); err != nil {
		errs = append(errs, err)
	}
	removeNativeHosts(res, &errs)
	if ownCopy {
		res.remove(dst, &errs)
		removeOwnEmptyDir(filepath.Dir(dst), cfg.Name)
	}
	if purge {
		for _, p := range []string{cfg.ConfigPath, cfg.LogPath} {
			if p == "" {
				continue
			}
			dir := filepath.Dir(p)
			// The directories are ours alone (…/cardbridge): remove
			// them whole, with rotated logs and corrupt-config copies.
			if filepath.Base(dir) == "cardbridge" {
				if _, err := os.Stat(dir); err == nil {
					if err := os.RemoveAll(dir); err != nil {
						errs = append(errs, permHint(err))
					} else {
						res.Removed = append(res.Removed, dir)
						res.Changed = true
					}
				}
			} else {
				res.remove(p, &errs)
			}
		}
	}
	res.remove(manifest, &errs)
	removeOwnEmptyDir(filepath.Dir(manifest), cfg.Name)
	removeCreated(created)
	return res, errors.Join(errs...)
}

// remove deletes path if it exists and records it.
func (r *Result) remove(path string, errs *[]error) {
	err := os.Remove(path)
	switch {
	case err == nil:
		r.Removed = append(r.Removed, path)
		r.Changed = true
	case errors.Is(err, fs.ErrNotExist):
	default:
		*errs = append(*errs, permHint(err))
	}
}

// CheckStatus reports whether the daemon is registered, running and
// listening, and whether the smart card service is up.
func CheckStatus(ctx context.Context, cfg Config) (*Status, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	st := &Status{Port: cfg.Port, Service: "unknown"}
	if err := status(ctx, cfg, st); err != nil {
		return st, err
	}
	st.ListenErr = Health(ctx, cfg.Port)
	st.Listening = st.ListenErr == nil
	st.SmartCardErr = cfg.SmartCardCheck(ctx)
	st.SmartCard = st.SmartCardErr == nil
	st.NativeHosts = nativeHostStates()
	return st, nil
}

// ErrPortHeld: something other than cardbridge holds the daemon's port,
// so the daemon refuses to run (pages would talk to that program).
var ErrPortHeld = errors.New("another program holds the port")

// Health asks the daemon on 127.0.0.1:port for GET /v1/health and checks
// that it answers like cardbridge ({"ok":true,...}). When something else
// holds the port the error wraps ErrPortHeld.
func Health(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/health", nil)
	if err != nil {
		return err
	}
	// Never go through a proxy for a loopback probe.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		// Something that accepts connections but does not speak HTTP
		// holds the port just as well.
		var d net.Dialer
		if c, derr := d.DialContext(ctx, "tcp", addr); derr == nil {
			c.Close()
			return fmt.Errorf("%w %s: it accepts connections but does not answer like cardbridge; cardbridge cannot run beside it", ErrPortHeld, addr)
		}
		return fmt.Errorf("nothing answers on %s", addr)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var h struct {
		OK       bool `json:"ok"`
		Protocol int  `json:"protocol"`
	}
	if resp.StatusCode == http.StatusForbidden {
		// cardbridge refuses other users' programs: this is likely the
		// daemon of another user of this machine.
		return fmt.Errorf("%w %s: it refuses this user (HTTP 403), perhaps another user's cardbridge; use another port", ErrPortHeld, addr)
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &h) != nil || !h.OK {
		return fmt.Errorf("%w %s: it answers HTTP %d, not like cardbridge; cardbridge cannot run beside it", ErrPortHeld, addr, resp.StatusCode)
	}
	return nil
}

// systemOwned reports whether exe lives where a package manager installs
// programs; such a binary is registered in place, never copied.
func systemOwned(exe string) bool {
	for _, p := range []string{"/usr/", "/opt/", "/Applications/"} {
		if strings.HasPrefix(exe, p) {
			return true
		}
	}
	return false
}

// copyExecutable copies src to dst atomically (temporary file, rename) so
// that a running copy of dst keeps working. It reports whether dst
// changed.
func copyExecutable(src, dst string) (bool, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return false, fmt.Errorf("installer: reading %s: %w", src, err)
	}
	if old, err := os.ReadFile(dst); err == nil && string(old) == string(data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, permHint(err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return false, permHint(err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o755)
	}
	if werr == nil {
		werr = os.Rename(tmp, dst)
	}
	if werr != nil {
		os.Remove(tmp)
		return false, permHint(werr)
	}
	return true, nil
}

// removeOwnEmptyDir removes dir if it is the program's own directory (named
// after it) and empty. Shared directories are removed only through the
// manifest of those Install created.
func removeOwnEmptyDir(dir, name string) {
	if filepath.Base(dir) == name {
		os.Remove(dir) // fails when not empty: keep it
	}
}

// permHint turns a permission error into one that says what to do.
func permHint(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %w (cardbridge installs per user: run it as the desktop user, without sudo, and check the ownership of your home directory)", ErrNoPermission, err)
	}
	return fmt.Errorf("installer: %w", err)
}
