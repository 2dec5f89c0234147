//go:build windows

package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// runKey is the per-user autostart list. A Windows service would be the
// obvious choice for a daemon, but services live in session 0, isolated
// from the user's desktop since Vista: from there the daemon could show
// neither its tray icon nor the PIN and consent dialogs. The Run value
// starts cardbridge inside the user's session at every logon, with the
// user's rights, and needs no administrator to install.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// ownsUserBinary: UserBinPath is in a directory of cardbridge's own, so
// whatever is there is Install's copy.
func ownsUserBinary(Config, string) bool { return true }

// UserBinPath is %LocalAppData%\Programs\cardbridge\cardbridge.exe, where
// per-user installers put programs.
func UserBinPath(name string) (string, error) {
	dir, err := os.UserCacheDir() // %LocalAppData%
	if err != nil {
		return "", fmt.Errorf("installer: %w", err)
	}
	return filepath.Join(dir, "Programs", name, name+".exe"), nil
}

func commandLine(cfg Config) string {
	parts := []string{syscall.EscapeArg(cfg.Executable)}
	for _, a := range cfg.Args {
		parts = append(parts, syscall.EscapeArg(a))
	}
	return strings.Join(parts, " ")
}

func install(ctx context.Context, cfg Config, res *Result) error {
	res.Registration = `HKCU\` + runKey + `\` + cfg.Name
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return permHint(err)
	}
	defer k.Close()
	want := commandLine(cfg)
	if old, _, err := k.GetStringValue(cfg.Name); err == nil && old == want {
		// Already registered; still make sure it runs now.
	} else {
		if err := k.SetStringValue(cfg.Name, want); err != nil {
			return permHint(err)
		}
		res.Changed = true
	}
	if Health(ctx, cfg.Port) == nil {
		res.Notes = append(res.Notes, "cardbridge is already running; it uses the new registration from the next logon")
		return nil
	}
	cmd := exec.Command(cfg.Executable, cfg.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP}
	if err := cmd.Start(); err != nil {
		res.Notes = append(res.Notes, "registered, but starting it now failed: "+err.Error())
		return nil
	}
	cmd.Process.Release()
	res.Started = true
	return nil
}

func uninstall(ctx context.Context, cfg Config, res *Result) error {
	res.Registration = `HKCU\` + runKey + `\` + cfg.Name
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		if errors.Is(err, registry.ErrNotExist) {
			return nil
		}
		return permHint(err)
	}
	defer k.Close()
	switch err := k.DeleteValue(cfg.Name); {
	case err == nil:
		res.Changed = true
		res.Removed = append(res.Removed, res.Registration)
	case errors.Is(err, registry.ErrNotExist):
	default:
		return permHint(err)
	}
	if Health(ctx, cfg.Port) == nil {
		res.Notes = append(res.Notes, "cardbridge is still running: choose Quit in its tray menu (a running program file cannot be deleted on Windows)")
	}
	return nil
}

func status(ctx context.Context, cfg Config, st *Status) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		st.Service = "not registered"
		return nil
	}
	defer k.Close()
	v, _, err := k.GetStringValue(cfg.Name)
	if err != nil {
		st.Service = "not registered"
		return nil
	}
	st.Installed = true
	st.Registration = `HKCU\` + runKey + `\` + cfg.Name + ` = ` + v
	exe := v
	if strings.HasPrefix(exe, `"`) {
		if i := strings.Index(exe[1:], `"`); i >= 0 {
			exe = exe[1 : i+1]
		}
	} else if f := strings.Fields(exe); len(f) > 0 {
		exe = f[0]
	}
	st.Executable = exe
	_, err = os.Stat(exe)
	st.ExecutableOK = err == nil
	st.Service = "no service manager (started at logon); see 'listening'"
	return nil
}

// smartCardServiceUp queries the Smart Card service (SCardSvr) with the
// minimal rights any user has. Windows starts it when a reader is
// attached, so "stopped" often just means no reader is connected.
func smartCardServiceUp(ctx context.Context) error {
	m, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return fmt.Errorf("cannot query services: %w", err)
	}
	defer windows.CloseServiceHandle(m)
	name, _ := windows.UTF16PtrFromString("SCardSvr")
	s, err := windows.OpenService(m, name, windows.SERVICE_QUERY_STATUS)
	if err != nil {
		return fmt.Errorf("the Smart Card service (SCardSvr) is missing: %w", err)
	}
	defer windows.CloseServiceHandle(s)
	var ss windows.SERVICE_STATUS
	if err := windows.QueryServiceStatus(s, &ss); err != nil {
		return fmt.Errorf("querying SCardSvr: %w", err)
	}
	if ss.CurrentState != windows.SERVICE_RUNNING {
		return errors.New("the Smart Card service (SCardSvr) is not running; Windows starts it when a reader is connected")
	}
	return nil
}

// registrationDirs is empty: the registration is a registry value.
func registrationDirs(Config) []string { return nil }
