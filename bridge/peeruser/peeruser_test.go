package peeruser

import (
	"net"
	"runtime"
	"testing"
)

// A connection this process makes to itself is its own user's.
func TestSameProcess(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		t.Skip("no implementation")
	}
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Logf("%s: %v (no IPv6?)", network, err)
			continue
		}
		defer ln.Close()
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := Check(s.LocalAddr(), s.RemoteAddr()); err != nil {
			t.Errorf("%s: %v", network, err)
		}
		// The listener's own address is no client's socket.
		if err := Check(s.LocalAddr(), ln.Addr()); err == nil {
			t.Errorf("%s: a socket that does not exist was found", network)
		}
	}
}
