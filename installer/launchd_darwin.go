//go:build darwin

package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kardianos/service"
)

// ownsUserBinary: UserBinPath is in a directory of cardbridge's own, so
// whatever is there is Install's copy.
func ownsUserBinary(Config, string) bool { return true }

// UserBinPath is ~/Library/Application Support/cardbridge/cardbridge.
func UserBinPath(name string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("installer: %w", err)
	}
	return filepath.Join(home, "Library", "Application Support", name, name), nil
}

type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

func agent(cfg Config) (service.Service, string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, "", err
	}
	svc, err := service.New(noop{}, &service.Config{
		Name:        cfg.Name,
		DisplayName: "cardbridge",
		Description: "cardbridge: Belgian eID card access for web pages",
		Executable:  cfg.Executable,
		Arguments:   cfg.Args,
		Option: service.KeyValue{
			"UserService": true, // a LaunchAgent: runs in the user's GUI session
			"RunAtLoad":   true, // start at login, not on demand
			"KeepAlive":   true,
		},
	})
	return svc, filepath.Join(home, "Library", "LaunchAgents", cfg.Name+".plist"), err
}

func install(ctx context.Context, cfg Config, res *Result) error {
	svc, plist, err := agent(cfg)
	if err != nil {
		return err
	}
	res.Registration = plist
	old, _ := os.ReadFile(plist)
	if old != nil {
		svc.Stop() // unload before replacing
		if err := os.Remove(plist); err != nil {
			return permHint(err)
		}
	}
	if err := svc.Install(); err != nil {
		return permHint(err)
	}
	now, _ := os.ReadFile(plist)
	res.Changed = res.Changed || string(old) != string(now)
	if err := svc.Start(); err != nil {
		res.Notes = append(res.Notes, "installed, but loading it now failed: "+err.Error())
		return nil
	}
	res.Started = true
	return nil
}

func uninstall(ctx context.Context, cfg Config, res *Result) error {
	svc, plist, err := agent(cfg)
	if err != nil {
		return err
	}
	res.Registration = plist
	if _, err := os.Stat(plist); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	svc.Stop()
	var errs []error
	res.remove(plist, &errs)
	return errors.Join(errs...)
}

func status(ctx context.Context, cfg Config, st *Status) error {
	svc, plist, err := agent(cfg)
	if err != nil {
		return err
	}
	if _, err := os.Stat(plist); err != nil {
		st.Service = "not installed"
		return nil
	}
	st.Installed, st.Registration = true, plist
	st.Executable = cfg.Executable
	st.ExecutableOK = true
	switch s, err := svc.Status(); {
	case err != nil:
		st.Service = "unknown (" + err.Error() + ")"
	case s == service.StatusRunning:
		st.Service = "running"
	default:
		st.Service = "stopped"
	}
	return nil
}

// smartCardServiceUp: macOS's CryptoTokenKit PC/SC layer is built in and
// started on demand; there is nothing to check without cgo.
func smartCardServiceUp(context.Context) error { return nil }

// registrationDirs is the directory install writes the LaunchAgent into.
func registrationDirs(Config) []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(home, "Library", "LaunchAgents")}
}
