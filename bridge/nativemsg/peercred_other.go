//go:build unix && !linux && !darwin

package nativemsg

import "errors"

// peerUID fails closed where the peer's credentials are not implemented.
func peerUID(int) (int, error) {
	return -1, errors.New("peer credentials not implemented on this system")
}
