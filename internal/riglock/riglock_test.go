//go:build unix

package riglock

import (
	"path/filepath"
	"testing"
	"time"
)

// TestExclusive checks that a second holder waits until the first releases,
// as two test processes would.
func TestExclusive(t *testing.T) {
	// A lock file of its own, so the test never waits for, or blocks, a
	// real rig user.
	path := filepath.Join(t.TempDir(), "rig.lock")
	release, err := acquire(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	waited := make(chan struct{}, 1)
	go func() {
		r, err := acquire(path, func() { waited <- struct{}{} })
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		got <- r
	}()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("second Acquire did not report waiting while the lock was held")
	}
	select {
	case <-got:
		t.Fatal("second Acquire returned while the lock was held")
	default:
	}
	release()
	select {
	case r := <-got:
		if r != nil {
			r()
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second Acquire did not get the lock after release")
	}
}
