package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
	"github.com/cardbridge/cardbridge/config"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/prompt"
	"github.com/cardbridge/cardbridge/prompt/i18n"
	"github.com/cardbridge/cardbridge/tray"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// serveDaemon is "cardbridge run": the WebSocket daemon that portal pages
// talk to, on 127.0.0.1 and [::1], until ctx is done. Usage and start-up
// errors go to stderr.
//
// There is deliberately no flag that approves anything on the user's
// behalf: consent, signatures and PINs always come from a person, through
// native dialogs or, without a desktop, an interactive terminal. With
// neither, everything is refused.
func serveDaemon(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "TCP port (default: the config file's, else 27183)")
	var allow, devHTTP stringList
	fs.Var(&allow, "allow-origin", "https origin allowed without a consent dialog (repeatable)")
	fs.Var(&devHTTP, "dev-allow-http-origin", "plain http origin allowed to connect, for portal development only (repeatable)")
	only := fs.Bool("only-allowed-origins", false, "refuse, without asking the user, origins neither allowed by flag nor stored as always allowed")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	prompter := fs.String("prompter", "auto", "how to ask the user: auto, native, terminal or deny")
	logFile := fs.String("log-file", "", "log `file` (default: the user's state directory; \"-\": standard error only)")
	showTray := fs.String("tray", "auto", "tray icon: auto (with native dialogs), on or off")
	systemConfig := fs.String("system-config", config.SystemPath(), "the administrator's machine-wide config `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	lvl, err := logging.ParseLevel(*level)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *showTray != "auto" && *showTray != "on" && *showTray != "off" {
		return fmt.Errorf("%w: --tray must be auto, on or off", errUsage)
	}
	log, logPath, closeLog := openLog(*logFile, lvl, stderr)
	defer closeLog()

	us, err := loadUserSetup(log, len(devHTTP) > 0, *prompter)
	if err != nil {
		return err
	}
	cfg, consents, p, how := us.cfg, us.consents, us.prompter, us.how
	if *port == 0 {
		*port = cfg.EffectivePort()
	}
	if how == "deny" {
		log.Warn("no desktop and no terminal to ask the user: only origins allowed by flag or stored as always allowed can connect, and PINs and signatures are refused")
	}
	sys, err := config.LoadSystem(*systemConfig)
	if err != nil {
		return fmt.Errorf("the administrator's config is unusable, so cardbridge does not start: %w", err)
	}
	wsOn, wsOffBy := config.WebSocketEnabled(sys, cfg)

	pc := pcscreaders.New()
	defer pc.Close()
	var readers bridge.Readers = pc
	wantTray := *showTray == "on" || (*showTray == "auto" && how == "native")
	var monitor *tray.Monitor
	var activity *tray.ActivityLog
	if wantTray {
		activity = tray.NewActivityLog(0)
		// The monitor sits between the server and PC/SC so that the icon
		// shows "busy" while a page uses the card.
		monitor = tray.NewMonitor(pc, log)
		readers = monitor
	}
	refusals := sharedRefusals(log)
	bcfg := bridge.Config{
		Port:               *port,
		AllowedOrigins:     slices.Concat(allow, sys.AllowedOrigins),
		OnlyAllowedOrigins: *only || sys.OnlyAllowedOrigins,
		DevHTTPOrigins:     devHTTP,
		Readers:            readers,
		Prompter:           withSharedDialogs(p, refusals, log),
		Consents:           consents,
		Refusals:           refusals,
		Logger:             log,
		Version:            version,
		Language:           string(i18n.Choose(cfg.Language)),
	}
	if activity != nil {
		bcfg.Activity = activity
	}
	// One core serves both channels: the WebSocket, when it is on, and
	// the browser extension's hosts through the relay.
	var srv *bridge.Server
	var core *bridge.Core
	if wsOn {
		srv, err = bridge.New(bcfg)
		if err == nil {
			core = srv.Core()
		}
	} else {
		core, err = bridge.NewCore(bcfg)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(devHTTP) > 0 {
		log.Warn("developer mode: plain http origins may connect", "origins", devHTTP.String())
	}
	log.Info("cardbridge running", "version", version, "port", *port, "websocket", wsOn, "prompter", how, "log", logPath)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	if wsOn {
		go func() {
			served <- srv.ListenAndServe(ctx)
			cancel()
		}()
	} else {
		log.Info("the WebSocket is turned off; pages reach cardbridge through the browser extension only", "by", wsOffBy)
		go func() {
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			core.Shutdown(sctx)
			served <- bridge.ErrServerClosed
		}()
	}
	relayed := serveRelay(ctx, core, log)
	if monitor != nil {
		go monitor.Run(ctx)
		// tray.Run wants the main goroutine (macOS and Windows run their
		// UI on the main thread); it returns when ctx ends or on Quit.
		err := tray.Run(ctx, tray.Options{
			Version: version, Port: *port, Language: cfg.Language,
			// Revoking through the core also closes the origin's open
			// sessions; blocks are lifted there too.
			Consents: trayConsents{consents, srv.Core()}, Blocked: srv.Core(), Activity: activity,
			LogPath: logPath, States: monitor.States(),
			OnQuit: cancel, Logger: log,
		})
		if err != nil {
			log.Warn("no tray icon; serving without it", "err", err)
		}
		if err == nil {
			cancel() // the user chose Quit
		}
	}
	err = <-served
	<-relayed
	if errors.Is(err, bridge.ErrServerClosed) {
		return nil
	}
	if errors.Is(err, bridge.ErrPortInUse) {
		return fmt.Errorf("%w; pages would reach that program instead of cardbridge, so cardbridge does not run beside it (stop it, or choose another port with --port or the config's \"port\")", err)
	}
	return err
}

// userSetup is what the daemon and a native-messaging host serving in
// its own process share: the user's config, consent store and dialogs.
type userSetup struct {
	cfg      config.Config
	consents bridge.ConsentStore
	prompter bridge.Prompter
	how      string // the prompter chosen: native, terminal, deny or test
}

// loadUserSetup opens the user's config and consent store and chooses the
// prompter. A missing or broken config file is logged, not fatal.
func loadUserSetup(log *slog.Logger, allowHTTP bool, prompterChoice string) (userSetup, error) {
	us := userSetup{consents: &bridge.MemoryConsentStore{}}
	if path, err := config.DefaultPath(); err != nil {
		log.Warn("no config file; consents last until exit", "err", err)
	} else {
		store, err := config.Open(path, config.StoreOptions{AllowHTTP: allowHTTP})
		if err != nil {
			log.Warn("config file problem", "path", path, "err", err)
		}
		if store != nil {
			us.consents = store
			us.cfg = store.Config()
		}
	}
	p, how, err := choosePrompter(prompterChoice, us.cfg, log)
	if err != nil {
		return us, fmt.Errorf("%w: %v", errUsage, err)
	}
	us.prompter, us.how = p, how
	return us, nil
}

// trayConsents is the consent store as the tray sees it: a revocation
// goes through the core, which ends the origin's open sessions at once.
type trayConsents struct {
	store bridge.ConsentStore
	core  *bridge.Core
}

func (c trayConsents) List() []string             { return c.store.List() }
func (c trayConsents) Revoke(origin string) error { return c.core.Revoke(origin) }

// openLog logs to the rotated log file, private to the user, and its
// errors to stderr too, both through the redactor: the bridge logs no PIN
// and masks national numbers itself, the redactor is the second line of
// defence. A service manager puts stderr in the system journal, which
// other users (the adm or systemd-journal group) may read: the sites the
// user visits and what they did stay in the private file, and the
// journal gets only what an administrator must see, errors. Without a
// usable log file it logs to stderr alone and says why. logPath is ""
// then.
func openLog(path string, lvl slog.Leveler, stderr io.Writer) (log *slog.Logger, logPath string, closeLog func()) {
	toStderr := slog.New(logging.NewRedactor(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})))
	if path == "-" {
		return toStderr, "", func() {}
	}
	if path == "" {
		var err error
		if path, err = logging.DefaultPath(); err != nil {
			toStderr.Warn("no log file", "err", err)
			return toStderr, "", func() {}
		}
	}
	log, closer, err := logging.New(logging.Options{Path: path, Level: lvl, Also: stderr, AlsoLevel: slog.LevelError})
	if err != nil {
		toStderr.Warn("no log file", "path", path, "err", err)
		return toStderr, "", func() {}
	}
	return log, path, func() { closer.Close() }
}

// choosePrompter picks how the user is asked. "auto" takes native dialogs
// when there is a desktop, else the terminal when stdin is one, else
// refuses everything: failing closed is the only safe default.
func choosePrompter(choice string, cfg config.Config, log *slog.Logger) (bridge.Prompter, string, error) {
	native := func() bridge.Prompter {
		return prompt.New(prompt.Options{Timeout: cfg.PromptTimeout(), Language: cfg.Language, Logger: log})
	}
	switch choice {
	case "native":
		return native(), "native", nil
	case "terminal":
		t, err := prompt.NewTerminal(os.Stdin, os.Stderr)
		if err != nil {
			return nil, "", fmt.Errorf("--prompter=terminal needs an interactive terminal on stdin: %w", err)
		}
		return t, "terminal", nil
	case "deny":
		return bridge.DenyPrompter{}, "deny", nil
	case "test":
		// Only in binaries built with -tags cardbridgetest.
		if tp := testPrompter(); tp != nil {
			return tp, "test", nil
		}
	case "auto":
		if hasDesktop() {
			return native(), "native", nil
		}
		if t, err := prompt.NewTerminal(os.Stdin, os.Stderr); err == nil {
			return t, "terminal", nil
		}
		return bridge.DenyPrompter{}, "deny", nil
	}
	return nil, "", fmt.Errorf("unknown --prompter %q (want auto, native, terminal or deny)", choice)
}

// hasDesktop reports whether native dialogs can be shown. A daemon that
// systemd started at login may come up before the desktop has exported
// DISPLAY to the user manager; the prompter fetches the display from the
// user manager before each dialog, so being a systemd user service counts.
func hasDesktop() bool {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" || os.Getenv("INVOCATION_ID") != ""
}

// runCommands is the run subcommand, for extraCommands.
func runCommands() []command {
	return []command{{"run", "run the daemon that web pages talk to", func(ctx context.Context, args []string, _, stderr io.Writer) error {
		return serveDaemon(ctx, args, stderr)
	}}}
}
