//go:build linux

package installer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"
)

// unitTemplate replaces kardianos/service's built-in systemd template,
// which is written for system services: WantedBy=multi-user.target never
// starts in a user manager, and its RestartSec=120 and EnvironmentFile in
// /etc/sysconfig make no sense here. The syntax is kardianos's template
// engine. default.target is what a user manager reaches at login;
// After=graphical-session.target orders us after the desktop where the
// session provides that target (GNOME, KDE) and is a no-op elsewhere.
const unitTemplate = `[Unit]
Description={{Description}}
After=graphical-session.target pcscd.socket
ConditionFileIsExecutable={{Path | cmdEscape}}

[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
Restart=on-failure
RestartSec=5
NoNewPrivileges=yes

[Install]
WantedBy=default.target
`

// UserBinPath is where Install copies the binary: ~/.local/bin, the XDG
// place for per-user executables.
func UserBinPath(name string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("installer: %w", err)
	}
	return filepath.Join(home, ".local", "bin", name), nil
}

// ownsUserBinary reports whether dst, in ~/.local/bin where the user
// keeps programs of their own, is the copy Install made: the unit being
// uninstalled starts it. A file there that no unit of ours starts (put
// there by the user, or left from an install with --no-copy elsewhere)
// is not ours to delete.
func ownsUserBinary(cfg Config, dst string) bool {
	dir, err := unitDir()
	if err != nil {
		return false
	}
	return execStart(filepath.Join(dir, cfg.Name+".service")) == dst
}

// unitDir is where kardianos/service writes user units. It ignores
// XDG_CONFIG_HOME, unlike systemd; see install.
func unitDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("installer: %w", err)
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
}

// noop is the kardianos service.Interface; the installer never runs the
// service through kardianos.
type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

// systemdService builds kardianos's systemd implementation explicitly:
// its automatic choice would pick SysV init on a machine where systemd is
// not PID 1 (containers, this project's CI), which for a user service is
// wrong either way.
func systemdService(cfg Config) (service.Service, error) {
	sc := &service.Config{
		Name:        cfg.Name,
		DisplayName: "cardbridge",
		Description: "cardbridge: Belgian eID card access for web pages",
		Executable:  cfg.Executable,
		Arguments:   cfg.Args,
		Option: service.KeyValue{
			"UserService":   true,
			"SystemdScript": unitTemplate,
		},
	}
	for _, sys := range service.AvailableSystems() {
		if sys.String() == "linux-systemd" {
			return sys.New(noop{}, sc)
		}
	}
	return nil, errors.New("installer: kardianos/service has no linux-systemd system")
}

// managerRunning reports whether the user's systemd instance answers.
func managerRunning(ctx context.Context) bool {
	if _, err := exec.LookPath("systemctl"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "systemctl", "--user", "show-environment").Run() == nil
}

func systemctl(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", append([]string{"--user"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl --user %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func install(ctx context.Context, cfg Config, res *Result) error {
	dir, err := unitDir()
	if err != nil {
		return err
	}
	unit := filepath.Join(dir, cfg.Name+".service")
	wants := filepath.Join(dir, "default.target.wants", cfg.Name+".service")
	res.Registration = unit
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.Clean(x) != filepath.Dir(filepath.Dir(dir)) {
		res.Notes = append(res.Notes, fmt.Sprintf("XDG_CONFIG_HOME is %s: systemd looks for user units there, but the unit is in %s; "+
			"link it with `systemctl --user link %s` if it does not start", x, unit, unit))
	}
	svc, err := systemdService(cfg)
	if err != nil {
		return err
	}
	// kardianos refuses to overwrite ("Init already exists"). Keep the
	// old content to tell whether anything changed, then replace it:
	// reinstalling refreshes the binary path and arguments.
	old, _ := os.ReadFile(unit)
	if old != nil {
		if err := os.Remove(unit); err != nil {
			return permHint(err)
		}
	}
	running := managerRunning(ctx)
	ierr := svc.Install() // writes the unit, systemctl enable, daemon-reload
	now, rerr := os.ReadFile(unit)
	if rerr != nil {
		if ierr == nil {
			ierr = rerr
		}
		if old != nil { // put the previous registration back
			os.WriteFile(unit, old, 0o644)
		}
		return permHint(ierr)
	}
	res.Changed = res.Changed || !bytes.Equal(old, now)
	if ierr != nil && running {
		return fmt.Errorf("installer: %w", ierr)
	}
	// Without a running user manager, `systemctl --user enable` may have
	// worked offline (it only makes a link) or systemctl may be missing:
	// make sure the link exists ourselves. It is what enable creates.
	if _, err := os.Lstat(wants); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(wants), 0o755); err != nil {
			return permHint(err)
		}
		if err := os.Symlink(unit, wants); err != nil {
			return permHint(err)
		}
		res.Changed = true
	}
	if !running {
		res.Notes = append(res.Notes, "the systemd user manager is not running here: cardbridge will start at the next login")
		return nil
	}
	if err := systemctl(ctx, "restart", cfg.Name+".service"); err != nil {
		res.Notes = append(res.Notes, "installed, but starting it now failed: "+err.Error())
		return nil
	}
	res.Started = true
	return nil
}

func uninstall(ctx context.Context, cfg Config, res *Result) error {
	dir, err := unitDir()
	if err != nil {
		return err
	}
	unit := filepath.Join(dir, cfg.Name+".service")
	res.Registration = unit
	if managerRunning(ctx) {
		systemctl(ctx, "stop", cfg.Name+".service") // not running is fine
		if _, err := os.Stat(unit); err == nil {
			svc, err := systemdService(cfg)
			if err != nil {
				return err
			}
			if err := svc.Uninstall(); err != nil {
				res.Notes = append(res.Notes, "systemd: "+err.Error())
			}
		}
	}
	// Whatever systemd did or could not do, remove the files ourselves:
	// every *.wants link to our unit, then the unit.
	var errs []error
	links, _ := filepath.Glob(filepath.Join(dir, "*.wants", cfg.Name+".service"))
	for _, l := range links {
		res.remove(l, &errs)
	}
	res.remove(unit, &errs)
	if managerRunning(ctx) {
		systemctl(ctx, "daemon-reload")
	}
	return errors.Join(errs...)
}

func status(ctx context.Context, cfg Config, st *Status) error {
	dir, err := unitDir()
	if err != nil {
		return err
	}
	name := cfg.Name + ".service"
	candidates := []struct{ unit, wants, who string }{
		{filepath.Join(dir, name), filepath.Join(dir, "default.target.wants", name), "for this user"},
		// What the .deb ships, enabled for every user with
		// `systemctl --global enable`.
		{filepath.Join("/usr/lib/systemd/user", name), filepath.Join("/etc/systemd/user/default.target.wants", name), "for all users (package)"},
	}
	for _, c := range candidates {
		if _, err := os.Stat(c.unit); err != nil {
			continue
		}
		st.Registration = c.unit
		st.Executable = execStart(c.unit)
		if _, err := os.Stat(c.wants); err != nil {
			st.Notes = append(st.Notes, c.unit+" exists but is not enabled (no "+c.wants+")")
			continue
		}
		st.Installed = true
		st.Registration = c.unit + " (enabled " + c.who + ")"
		break
	}
	if st.Executable != "" {
		fi, err := os.Stat(st.Executable)
		st.ExecutableOK = err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
	}
	if !managerRunning(ctx) {
		st.Service = "unknown (the systemd user manager is not running)"
		return nil
	}
	svc, err := systemdService(cfg)
	if err != nil {
		return err
	}
	switch s, err := svc.Status(); {
	case errors.Is(err, service.ErrNotInstalled):
		st.Service = "not installed"
	case err != nil:
		st.Service = "unknown (" + err.Error() + ")"
	case s == service.StatusRunning:
		st.Service = "running"
	case s == service.StatusStopped:
		st.Service = "stopped"
	}
	return nil
}

// execStart returns the program of the unit's ExecStart line.
func execStart(unit string) string {
	f, err := os.Open(unit)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "ExecStart="); ok {
			v = strings.TrimLeft(v, "-@:+!")
			if fields := strings.Fields(v); len(fields) > 0 {
				return strings.Trim(fields[0], `"`)
			}
		}
	}
	return ""
}

// registrationDirs are the directories install writes the unit and its
// enablement link into.
func registrationDirs(Config) []string {
	dir, err := unitDir()
	if err != nil {
		return nil
	}
	return []string{dir, filepath.Join(dir, "default.target.wants")}
}
