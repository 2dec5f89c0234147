package peeruser

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockDiagUID asks the kernel, over NETLINK_SOCK_DIAG, for the one TCP
// socket whose local address is sockLocal and remote address sockRemote,
// and returns its owner's uid: an exact lookup, whatever the number of
// sockets on the machine (sock_diag(7)). The structures are those of
// linux/inet_diag.h: inet_diag_req_v2 (56 bytes) holding an
// inet_diag_sockid (48 bytes: ports and addresses in network order,
// interface, cookie), answered by an inet_diag_msg whose uid is at byte
// 64.
func sockDiagUID(sockLocal, sockRemote netip.AddrPort) (int, error) {
	family := byte(unix.AF_INET)
	if sockLocal.Addr().Is6() && !sockLocal.Addr().Is4In6() {
		family = unix.AF_INET6
	}
	const hdrLen, reqLen = unix.SizeofNlMsghdr, 56
	msg := make([]byte, hdrLen+reqLen)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence
	req := msg[hdrLen:]
	req[0] = family
	req[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[4:], 0xffffffff) // all states
	id := req[8:]
	binary.BigEndian.PutUint16(id[0:], sockLocal.Port())
	binary.BigEndian.PutUint16(id[2:], sockRemote.Port())
	putAddr(id[4:20], sockLocal.Addr())
	putAddr(id[20:36], sockRemote.Addr())
	// idiag_if 0; idiag_cookie INET_DIAG_NOCOOKIE: no cookie to match.
	binary.NativeEndian.PutUint32(id[40:], 0xffffffff)
	binary.NativeEndian.PutUint32(id[44:], 0xffffffff)

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(2e9))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return -1, err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return -1, err
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					if syscall.Errno(-e) == syscall.ENOENT {
						return -1, fmt.Errorf("%w: %s -> %s", ErrUnknown, sockLocal, sockRemote)
					}
					return -1, syscall.Errno(-e)
				}
			}
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(m.Data) < 72 {
				return -1, errors.New("peeruser: short inet_diag_msg")
			}
			// The lookup falls back to a listening socket, and finds
			// time-wait ones (which carry no uid): only the connected
			// socket itself answers the question.
			got := m.Data[4:]
			if state := m.Data[1]; state == tcpListen || state == tcpTimeWait ||
				binary.BigEndian.Uint16(got[0:]) != sockLocal.Port() || binary.BigEndian.Uint16(got[2:]) != sockRemote.Port() {
				return -1, fmt.Errorf("%w: %s -> %s", ErrUnknown, sockLocal, sockRemote)
			}
			return int(binary.NativeEndian.Uint32(m.Data[64:])), nil
		}
	}
	return -1, fmt.Errorf("%w: no answer from sock_diag", ErrUnknown)
}

// TCP states (include/net/tcp_states.h).
const (
	tcpTimeWait = 6
	tcpListen   = 10
)

// putAddr writes a into a 16-byte idiag_src or idiag_dst: an IPv4
// address in its first four bytes.
func putAddr(dst []byte, a netip.Addr) {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		copy(dst, b[:])
		return
	}
	b := a.As16()
	copy(dst, b[:])
}
