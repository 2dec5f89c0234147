package rig

import (
	"testing"

	"github.com/cardbridge/cardbridge/internal/riglock"
)

// lock takes the machine-wide rig lock.
func lock(t testing.TB) (unlock func(), err error) {
	t.Helper()
	return riglock.Acquire(func() {
		t.Logf("rig: waiting for %s: another test is using %s", riglock.Path, Reader)
	})
}
