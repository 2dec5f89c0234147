package peeruser

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
)

func TestFindUID(t *testing.T) {
	// As /proc/net/tcp prints them on a little-endian machine.
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:E6D0 0100007F:6A3F 01 00000000:00000000 00:00000000 00000000  1000        0 0 3 0
   1: 0100007F:6A3F 0100007F:E6D0 01 00000000:00000000 00:00000000 00000000    65534        0 0 3 0
`)
	if !littleEndian() {
		t.Skip("sample taken on a little-endian machine")
	}
	client := netip.MustParseAddrPort("127.0.0.1:59088")
	server := netip.MustParseAddrPort("127.0.0.1:27199")
	if uid, ok := findUID(table, client, server); !ok || uid != 1000 {
		t.Errorf("client socket: uid %d, %v; want 1000", uid, ok)
	}
	if uid, ok := findUID(table, server, client); !ok || uid != 65534 {
		t.Errorf("server socket: uid %d, %v; want 65534", uid, ok)
	}
	if _, ok := findUID(table, client, netip.MustParseAddrPort("127.0.0.1:1")); ok {
		t.Error("found a socket that is not there")
	}
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// sock_diag finds the client socket of a connection by its addresses, and
// nothing for addresses no connection has.
func TestSockDiag(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := c.LocalAddr().(*net.TCPAddr).AddrPort()
	server := ln.Addr().(*net.TCPAddr).AddrPort()
	uid, err := sockDiagUID(client, server)
	if err != nil || uid != os.Getuid() {
		t.Fatalf("sock_diag: uid %d, %v; want %d", uid, err, os.Getuid())
	}
	if _, err := sockDiagUID(netip.AddrPortFrom(client.Addr(), 1), server); !errors.Is(err, ErrUnknown) {
		t.Fatalf("a connection that does not exist: %v", err)
	}
}
