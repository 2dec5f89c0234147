package nativemsg

import "golang.org/x/sys/unix"

// peerUID returns the uid of a Unix socket's peer, from the credentials
// the kernel recorded at connect or listen time (socket(7), SO_PEERCRED).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
