//go:build linux

package vpcd

import (
	"net"
	"syscall"
)

// setQuickAck turns on TCP_QUICKACK (Linux socket option 12). Failures are
// ignored: the option only affects latency, never correctness.
func setQuickAck(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
