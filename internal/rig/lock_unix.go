//go:build unix

package rig

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// lock takes the machine-wide rig lock, an flock on lockPath. The kernel
// drops it if the process dies, so a crashed test run cannot wedge the rig.
func lock(t testing.TB) (unlock func(), err error) {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open rig lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Logf("rig: waiting for %s: another test is using %s", lockPath, Reader)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lockPath, err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
