//go:build unix

package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
)

// Two processes' dialogs (two sharedDialogs on one lock file) are never
// open at once, and a wait for the other's dialog ends with its context.
func TestSharedDialogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dialog.lock")
	lock := func(ctx context.Context) (func(), error) { return flockWait(ctx, path) }
	hold := make(chan struct{})
	first := &bridgetest.Prompter{}
	first.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.AllowOnce, Hold: hold})
	second := &bridgetest.Prompter{}
	second.AllowConsent(bridge.AllowOnce)
	a := sharedDialogs{p: first, lock: lock}
	b := sharedDialogs{p: second, lock: lock}

	done := make(chan error, 1)
	go func() {
		_, err := a.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://a.example"})
		done <- err
	}()
	<-first.Opened()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := b.Consent(ctx, bridge.ConsentRequest{Origin: "https://b.example"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second dialog while the first is open: %v", err)
	}
	if n := len(second.Calls()); n != 0 {
		t.Fatalf("second dialog shown while the first was open")
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d, err := b.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://b.example"})
	if err != nil || d != bridge.AllowOnce {
		t.Fatalf("second dialog after the first closed: %v %v", d, err)
	}
}

// A dialog that waited for another process's is not shown when the user
// refused its site meanwhile: two host processes of one page both passed
// the core's check before the first dialog was answered.
func TestSharedDialogsRefusedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	lock := func(ctx context.Context) (func(), error) { return flockWait(ctx, filepath.Join(dir, "dialog.lock")) }
	store := func() *refusalFile {
		return &refusalFile{path: filepath.Join(dir, "refusals.json"), log: slog.New(slog.DiscardHandler),
			lock: func(ctx context.Context) (func(), error) { return flockWait(ctx, filepath.Join(dir, "refusals.lock")) }}
	}
	hold := make(chan struct{})
	first := &bridgetest.Prompter{}
	first.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.Deny, Hold: hold})
	second := &bridgetest.Prompter{}
	second.AllowConsent(bridge.AllowOnce)
	firstStore := store()
	a := sharedDialogs{p: first, lock: lock, refusals: firstStore}
	b := sharedDialogs{p: second, lock: lock, refusals: store()}

	go func() { _, _ = a.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://evil.example"}) }()
	<-first.Opened()
	type res struct {
		d   bridge.ConsentDecision
		err error
	}
	got := make(chan res, 1)
	go func() {
		d, err := b.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://a.evil.example"})
		got <- res{d, err}
	}()
	time.Sleep(100 * time.Millisecond) // the second waits for its turn
	// What the first process's core records after the "No".
	firstStore.Update(func(r *bridge.Refusals) {
		r.DeniedUntil = map[string]time.Time{"https://evil.example": time.Now().Add(time.Minute)}
		r.Dialogs = map[string]bridge.DialogRefusals{"https://evil.example": {Count: 2, Until: time.Now().Add(time.Minute)}}
	})
	close(hold)
	r := <-got
	if r.d != bridge.Deny || !errors.Is(r.err, errRefusedMeanwhile) || len(second.Calls()) != 0 {
		t.Fatalf("consent after the site was refused meanwhile: %v %v, dialogs %v", r.d, r.err, second.Calls())
	}
	_, err := b.PIN(context.Background(), bridge.PINRequest{Origin: "https://evil.example"})
	var be *bridge.Error
	if !errors.As(err, &be) || be.Code != bridge.CodeRateLimited || len(second.Calls()) != 0 {
		t.Fatalf("PIN dialog within the back-off: %v, dialogs %v", err, second.Calls())
	}
}
