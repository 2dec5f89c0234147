//go:build !linux && !windows && !darwin

package peeruser

import (
	"fmt"
	"net/netip"
)

// check fails closed where no implementation exists.
func check(netip.AddrPort, netip.AddrPort) error {
	return fmt.Errorf("%w: not implemented on this system", ErrUnknown)
}
