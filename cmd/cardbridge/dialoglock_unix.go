//go:build unix

package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
)

// withSharedDialogs wraps p so that its dialogs wait for those of the
// user's other cardbridge processes (an flock on dialog.lock in the
// user's private run-time directory), checking refusals (see
// sharedDialogs) once its turn comes. Without that directory p is
// returned as it is, and the reason logged.
func withSharedDialogs(p bridge.Prompter, refusals bridge.RefusalStore, log *slog.Logger) bridge.Prompter {
	dir, err := userPrivateDir()
	if err != nil {
		log.Warn("dialogs not shared with other cardbridge processes", "err", err)
		return p
	}
	path := filepath.Join(dir, "dialog.lock")
	return sharedDialogs{p: p, refusals: refusals, lock: func(ctx context.Context) (func(), error) { return flockWait(ctx, path) }}
}

// sharedRefusals is the refusal store of all the user's cardbridge
// processes: refusals.json in the user's private run-time directory,
// under an flock on refusals.lock. Without that directory it returns
// nil (the core keeps its refusals in memory), and the reason logged.
func sharedRefusals(log *slog.Logger) bridge.RefusalStore {
	dir, err := userPrivateDir()
	if err != nil {
		log.Warn("refusals not shared with other cardbridge processes", "err", err)
		return nil
	}
	lock := filepath.Join(dir, "refusals.lock")
	return &refusalFile{
		path: filepath.Join(dir, "refusals.json"),
		lock: func(ctx context.Context) (func(), error) { return flockWait(ctx, lock) },
		log:  log,
	}
}

// userPrivateDir is the user's private (0700) run-time directory, which
// holds the relay.
func userPrivateDir() (string, error) {
	relay, err := nativemsg.DefaultRelayPath()
	if err != nil {
		return "", err
	}
	return nativemsg.PrivateDir(relay)
}

// flockWait takes an exclusive flock on path, polling so that ctx can
// end the wait (a closed page, a timeout). The kernel drops the lock if
// the process dies.
func flockWait(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
