package peeruser

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// check finds the client's socket in /proc/net/tcp or tcp6 and compares
// its owner's uid with ours.
func check(local, remote netip.AddrPort) error {
	uid, err := socketUID(remote, local)
	if err != nil {
		return err
	}
	if uid != os.Getuid() {
		return fmt.Errorf("%w (uid %d)", ErrOtherUser, uid)
	}
	return nil
}

// socketUID returns the owner uid of the TCP socket whose local address is
// sockLocal and remote address sockRemote.
//
// It asks sock_diag for that one socket; where netlink is not available
// (a restricted sandbox), it scans /proc/net/tcp{,6}.
func socketUID(sockLocal, sockRemote netip.AddrPort) (int, error) {
	if uid, err := sockDiagUID(sockLocal, sockRemote); err == nil || errors.Is(err, ErrUnknown) {
		return uid, err
	}
	files := []string{"/proc/net/tcp", "/proc/net/tcp6"}
	if sockLocal.Addr().Is6() && !sockLocal.Addr().Is4In6() {
		files = files[1:]
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // no IPv6: no tcp6
		}
		if uid, ok := findUID(data, sockLocal, sockRemote); ok {
			return uid, nil
		}
	}
	return -1, fmt.Errorf("%w: %s -> %s", ErrUnknown, sockLocal, sockRemote)
}

// findUID scans a /proc/net/tcp{,6} table. Columns (proc(5)): sl,
// local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when,
// retrnsmt, uid, ... An address is the IP as hexadecimal 32-bit words
// each in the kernel's byte order, a colon, and the port in hexadecimal.
func findUID(table []byte, local, remote netip.AddrPort) (int, bool) {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		l, ok1 := parseProcAddr(f[1])
		r, ok2 := parseProcAddr(f[2])
		if !ok1 || !ok2 || !sameAddrPort(l, local) || !sameAddrPort(r, remote) {
			continue
		}
		uid, err := strconv.Atoi(f[7])
		if err != nil {
			return -1, false
		}
		return uid, true
	}
	return -1, false
}

func sameAddrPort(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

func parseProcAddr(s string) (netip.AddrPort, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	// Each 32-bit word of the address, as stored in memory (network
	// order), was printed as a number read in the machine's byte order:
	// read the number back and store it the same way.
	ip := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:i+4]))
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}
