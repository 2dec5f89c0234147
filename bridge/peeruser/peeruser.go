// Package peeruser tells whether the program at the other end of a
// loopback TCP connection runs as the same OS user as this one. A
// localhost server has no other way to keep other users of a shared
// machine (a terminal server, a family computer) away: any local program
// can connect to 127.0.0.1 and send any Origin header.
//
// The answer comes from the operating system's table of sockets: the
// client's socket is the one whose local address is the connection's
// remote address and whose remote address is the connection's local one.
//   - Linux: the socket's owner uid as the kernel records it, from an
//     exact NETLINK_SOCK_DIAG lookup of the one socket (sock_diag(7)), else
//     from the uid column of /proc/net/tcp and /proc/net/tcp6 (proc(5)).
//   - Windows: GetExtendedTcpTable's owning process id, then that
//     process's token user, compared with this process's.
//   - macOS: lsof, run as this user, which lists only this user's
//     processes' sockets unless run as root; the peer socket must be among
//     them.
//
// When the socket cannot be found (the client already closed it, or the
// platform has no implementation) the answer is an error: callers refuse.
package peeruser

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrOtherUser: the peer runs as another OS user.
var ErrOtherUser = errors.New("peeruser: the peer runs as another user")

// ErrUnknown: the peer's socket was not found in the system's table.
var ErrUnknown = errors.New("peeruser: the peer's socket was not found")

// Check returns nil when the peer of a TCP connection with local address
// local and remote address remote runs as this process's user.
func Check(local, remote net.Addr) error {
	l, err := addrPort(local)
	if err != nil {
		return err
	}
	r, err := addrPort(remote)
	if err != nil {
		return err
	}
	return check(l, r)
}

func addrPort(a net.Addr) (netip.AddrPort, error) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort(), nil
	case nil:
		return netip.AddrPort{}, fmt.Errorf("%w: no address", ErrUnknown)
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("peeruser: %w", err)
	}
	return ap, nil
}
