package nativemsg

import "golang.org/x/sys/unix"

// peerUID returns the effective uid of a Unix socket's peer
// (unix(4), LOCAL_PEERCRED).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
