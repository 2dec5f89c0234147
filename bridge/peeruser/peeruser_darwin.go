package peeruser

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// check asks lsof, running as this user, for the process holding the
// client's socket. Unless run as root, macOS's lsof sees only the calling
// user's processes' descriptors, so finding the socket, in a process other
// than this one, with this user's uid, is the proof. lsof(8): -n -P no
// name lookups, -i selects by address, -F p u n prints the pid, uid and
// name fields.
func check(local, remote netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sel := "TCP@" + addrForLsof(remote)
	out, err := exec.CommandContext(ctx, "/usr/sbin/lsof", "-n", "-P", "-i", sel, "-F", "pun").Output()
	if err != nil && len(out) == 0 {
		return fmt.Errorf("%w: lsof: %v", ErrUnknown, err)
	}
	// The client socket's name field reads "<remote>-><local>" (its own
	// address first).
	want := addrForLsof(remote) + "->" + addrForLsof(local)
	var pid, uid int = -1, -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		switch line[0] {
		case 'p':
			pid, _ = strconv.Atoi(line[1:])
		case 'u':
			uid, _ = strconv.Atoi(line[1:])
		case 'n':
			if line[1:] == want && pid != os.Getpid() {
				if uid != os.Getuid() {
					return fmt.Errorf("%w (uid %d)", ErrOtherUser, uid)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s -> %s (lsof sees only this user's sockets)", ErrUnknown, remote, local)
}

func addrForLsof(a netip.AddrPort) string {
	ip := a.Addr().Unmap()
	if ip.Is6() {
		return "[" + ip.String() + "]:" + strconv.Itoa(int(a.Port()))
	}
	return strings.TrimSpace(ip.String()) + ":" + strconv.Itoa(int(a.Port()))
}
