//go:build unix

package main

import (
	"context"
	"errors"
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
