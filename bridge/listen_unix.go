//go:build !windows

package bridge

import (
	"errors"
	"syscall"
)

func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// ipv6Unavailable: the machine has no IPv6 loopback (disabled by sysctl
// or boot option, or no IPv6 in the kernel).
func ipv6Unavailable(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}
