package bridge

import (
	"errors"

	"golang.org/x/sys/windows"
)

func addrInUse(err error) bool {
	return errors.Is(err, windows.WSAEADDRINUSE) || errors.Is(err, windows.WSAEACCES)
}

// ipv6Unavailable: the machine has no IPv6 loopback.
func ipv6Unavailable(err error) bool {
	return errors.Is(err, windows.WSAEADDRNOTAVAIL) || errors.Is(err, windows.WSAEAFNOSUPPORT)
}
