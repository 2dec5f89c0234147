package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/config"
	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/pcsc"
)

// installCommands are the install, uninstall and status subcommands;
// extraCommands returns them.
func installCommands() []command {
	return []command{
		{"install", "start cardbridge at every login (per user, no administrator needed)", runInstall},
		{"uninstall", "stop starting cardbridge at login and remove what install created", runUninstall},
		{"status", "say whether cardbridge is installed, running and reachable", runStatus},
		{"native-manifest", "print a browser's native-messaging host manifest (for packages)", runNativeManifest},
	}
}

// installerConfig is the installer configuration shared by the three
// commands: the port and paths come from the user's config.
func installerConfig(port int) installer.Config {
	cfg := installer.Config{
		Port: port,
		// SCardEstablishContext is the real question "does the smart
		// card service answer?", so ask it through the project's
		// transport rather than probing a socket.
		SmartCardCheck: func(ctx context.Context) error {
			c, err := pcsc.Establish(ctx)
			if err != nil {
				return explainPCSC(err)
			}
			return c.Close()
		},
	}
	if p, err := config.DefaultPath(); err == nil {
		cfg.ConfigPath = p
		if port == 0 {
			if c, err := config.Load(p); err == nil {
				cfg.Port = c.EffectivePort()
			}
		}
	}
	if p, err := logging.DefaultPath(); err == nil {
		cfg.LogPath = p
	}
	return cfg
}

func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("install", stderr)
	noCopy := fs.Bool("no-copy", false, "register this binary where it is instead of copying it to the per-user program directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := installerConfig(0)
	cfg.CopyBinary = !*noCopy
	cfg.NativeMessaging = true
	res, err := installer.Install(ctx, cfg)
	if res != nil {
		fmt.Fprint(stdout, res)
	}
	return err
}

func runUninstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("uninstall", stderr)
	purge := fs.Bool("purge", false, "also delete your settings (allowed websites) and logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	res, err := installer.Uninstall(ctx, installerConfig(0), *purge)
	if res != nil {
		fmt.Fprint(stdout, res)
	}
	return err
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr)
	port := fs.Int("port", 0, "port to probe (default: from the config file, else 27183)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := installer.CheckStatus(ctx, installerConfig(*port))
	if st != nil {
		fmt.Fprint(stdout, st)
	}
	fmt.Fprint(stdout, transportStatus(ctx))
	return err
}

// transportStatus says whether the WebSocket is turned off by config and
// whether the daemon's relay for the browser extension answers.
func transportStatus(ctx context.Context) string {
	var b strings.Builder
	var user config.Config
	if p, err := config.DefaultPath(); err == nil {
		user, _ = config.Load(p)
	}
	sys, err := config.LoadSystem(config.SystemPath())
	switch on, by := config.WebSocketEnabled(sys, user); {
	case err != nil:
		fmt.Fprintf(&b, "websocket:          unknown (%v)\n", err)
	case !on:
		fmt.Fprintf(&b, "websocket:          off (turned off by the %s's config)\n", by)
	}
	path, err := nativemsg.DefaultRelayPath()
	if err != nil {
		fmt.Fprintf(&b, "extension relay:    none (%v)\n", err)
		return b.String()
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := nativemsg.PingRelay(dctx, path); err == nil {
		fmt.Fprintf(&b, "extension relay:    %s (the daemon answers)\n", path)
	} else {
		fmt.Fprintf(&b, "extension relay:    not answering (%v); extension sessions run in their own process\n", err)
	}
	return b.String()
}

// runNativeManifest prints the host manifest for one browser, so that
// packages can generate their system-wide manifests from the binary.
func runNativeManifest(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("native-manifest", stderr)
	browser := fs.String("browser", "", "chrome, chromium, edge or firefox")
	path := fs.String("path", "", "absolute path of the cardbridge binary the browser starts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || !filepath.IsAbs(*path) {
		return fmt.Errorf("%w: --path must be an absolute path", errUsage)
	}
	b, err := installer.ManifestJSON(*browser, *path)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	_, err = stdout.Write(b)
	return err
}
