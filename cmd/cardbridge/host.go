package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
	"github.com/cardbridge/cardbridge/config"
	"github.com/cardbridge/cardbridge/prompt/i18n"
)

// runNativeHost is the native-messaging host: what the browser runs,
// with its own command line (nativemsg.LooksLikeHostArgs), when the
// cardbridge extension opens a session. stdin and stdout carry the
// browser's framing; stderr goes to the browser's log.
//
// When the daemon runs, the host relays the session to it over the
// user's relay channel, so that every session shares the daemon's consent
// store, dialog queue, reader locks and tray icon. Otherwise it serves the
// session itself, with the same config, consent store and dialogs, and
// the refusal cooldowns and back-offs all the user's cardbridge processes
// share.
func runNativeHost(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	caller, err := nativemsg.ParseCaller(args)
	if err != nil {
		if b, merr := json.Marshal(map[string]any{"event": "refused", "data": map[string]any{
			"code": bridge.CodeOriginNotAllowed, "message": "this host serves only the cardbridge extension"}}); merr == nil {
			_ = nativemsg.WriteFrame(stdout, b)
		}
		fmt.Fprintln(stderr, "cardbridge:", err)
		return 1
	}
	log, _, closeLog := openLog("", slog.LevelInfo, stderr)
	defer closeLog()
	log = log.With("host", caller.Browser)

	if path, err := nativemsg.DefaultRelayPath(); err == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := nativemsg.DialRelay(dctx, path)
		cancel()
		if err == nil {
			log.Debug("relaying the session to the daemon", "relay", path)
			if err := nativemsg.Relay(ctx, conn, stdin, stdout); err != nil {
				log.Warn("relay ended", "err", err)
				return 1
			}
			return 0
		}
		log.Debug("no daemon to relay to; serving in this process", "err", err)
	}

	us, err := loadUserSetup(log, false, "auto")
	if err != nil {
		fmt.Fprintln(stderr, "cardbridge:", err)
		return 1
	}
	// The administrator's origin policy holds here as in the daemon: a
	// session served in this process must not escape what `run` enforces.
	sys, err := config.LoadSystem(systemConfigPath())
	if err != nil {
		fmt.Fprintln(stderr, "cardbridge: the administrator's config is unusable:", err)
		return 1
	}
	if tp := testPrompter(); tp != nil {
		us.prompter = tp
	}
	pc := pcscreaders.New()
	defer pc.Close()
	// A page's every session is a new host process: the refusals must
	// outlive this one (see sharedRefusals).
	refusals := sharedRefusals(log)
	core, err := bridge.NewCore(bridge.Config{
		AllowedOrigins:     sys.AllowedOrigins,
		OnlyAllowedOrigins: sys.OnlyAllowedOrigins,
		Readers:            pc,
		Prompter:           withSharedDialogs(us.prompter, refusals, log),
		Consents:           us.consents,
		Refusals:           refusals,
		Logger:             log,
		Version:            version,
		Language:           string(i18n.Choose(us.cfg.Language)),
	})
	if err != nil {
		fmt.Fprintln(stderr, "cardbridge:", err)
		return 1
	}
	err = nativemsg.Serve(ctx, core, stdin, stdout)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = core.Shutdown(sctx)
	var ref *bridge.RefusedError
	if err != nil && !errors.As(err, &ref) {
		log.Warn("native messaging session failed", "err", err)
		return 1
	}
	return 0
}

// serveRelay serves the hosts of this user's browsers through core until
// ctx is done; the channel it returns is closed then. Without a relay
// (another daemon serves it, no runtime directory) hosts serve in their
// own process, which is logged.
func serveRelay(ctx context.Context, core *bridge.Core, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	path, err := nativemsg.DefaultRelayPath()
	if err != nil {
		log.Warn("no relay for the browser extension: its sessions will run in their own process", "err", err)
		close(done)
		return done
	}
	ln, err := nativemsg.ListenRelay(path, log)
	if err != nil {
		log.Warn("no relay for the browser extension: its sessions will run in their own process", "err", err)
		close(done)
		return done
	}
	log.Info("relay for the browser extension", "path", path)
	go func() {
		defer close(done)
		if err := nativemsg.ServeRelay(ctx, core, ln); err != nil {
			log.Warn("relay stopped", "err", err)
		}
	}()
	return done
}
