//go:build unix

package riglock

import (
	"fmt"
	"os"
	"syscall"
)

// Acquire takes the lock, calling waiting first if another process holds it
// (waiting may be nil), and returns the function that releases it.
func Acquire(waiting func()) (release func(), err error) {
	return acquire(Path, waiting)
}

func acquire(path string, waiting func()) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("riglock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if waiting != nil {
			waiting()
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("riglock: lock %s: %w", path, err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
