package peeruser

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

// TCP_TABLE_OWNER_PID_CONNECTIONS: the connected sockets, with the id of
// the owning process (TCP_TABLE_CLASS, iprtrmib.h).
const tcpTableOwnerPIDConnections = 4

// check finds the client socket's owning process with GetExtendedTcpTable
// and compares the process's token user with ours.
func check(local, remote netip.AddrPort) error {
	pid, err := owningPID(remote, local)
	if err != nil {
		return err
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("peeruser: %w", err)
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		// A process of another user (or a protected one) that we may not
		// even query is not ours.
		return fmt.Errorf("%w (pid %d: %v)", ErrOtherUser, pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return fmt.Errorf("%w (pid %d: %v)", ErrOtherUser, pid, err)
	}
	defer tok.Close()
	ptu, err := tok.GetTokenUser()
	if err != nil {
		return fmt.Errorf("%w (pid %d: %v)", ErrOtherUser, pid, err)
	}
	if !windows.EqualSid(ptu.User.Sid, tu.User.Sid) {
		return fmt.Errorf("%w (pid %d)", ErrOtherUser, pid)
	}
	return nil
}

// owningPID returns the process owning the TCP socket whose local address
// is sockLocal and remote address sockRemote.
func owningPID(sockLocal, sockRemote netip.AddrPort) (uint32, error) {
	family := uint32(windows.AF_INET)
	if sockLocal.Addr().Is6() && !sockLocal.Addr().Is4In6() {
		family = windows.AF_INET6
	}
	var buf []byte
	size := uint32(16 << 10)
	for range 5 {
		buf = make([]byte, size)
		r, _, _ := procGetExtendedTcpTable.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0,
			uintptr(family), tcpTableOwnerPIDConnections, 0)
		if r == 0 {
			break
		}
		if windows.Errno(r) != windows.ERROR_INSUFFICIENT_BUFFER {
			return 0, fmt.Errorf("peeruser: GetExtendedTcpTable: %w", windows.Errno(r))
		}
		buf = nil
	}
	if buf == nil {
		return 0, fmt.Errorf("%w: the table keeps growing", ErrUnknown)
	}
	if pid, ok := findPID(buf, family == windows.AF_INET6, sockLocal, sockRemote); ok {
		return pid, nil
	}
	return 0, fmt.Errorf("%w: %s -> %s", ErrUnknown, sockLocal, sockRemote)
}

// findPID scans a MIB_TCPTABLE_OWNER_PID (rows of six DWORDs: state,
// local address, local port, remote address, remote port, owning pid) or
// a MIB_TCP6TABLE_OWNER_PID (16-byte local address, scope id, local port,
// 16-byte remote address, scope id, remote port, state, owning pid).
// Addresses are in network order; ports in network order in the low two
// bytes of their DWORD.
func findPID(buf []byte, v6 bool, local, remote netip.AddrPort) (uint32, bool) {
	if len(buf) < 4 {
		return 0, false
	}
	n := int(binary.LittleEndian.Uint32(buf))
	rowSize, off := 24, 4
	if v6 {
		rowSize = 56
	}
	port := func(b []byte) uint16 { return binary.BigEndian.Uint16(b[:2]) }
	for i := 0; i < n && off+rowSize <= len(buf); i, off = i+1, off+rowSize {
		row := buf[off : off+rowSize]
		var l, r netip.AddrPort
		var pid uint32
		if v6 {
			la, _ := netip.AddrFromSlice(row[0:16])
			ra, _ := netip.AddrFromSlice(row[24:40])
			l = netip.AddrPortFrom(la, port(row[20:24]))
			r = netip.AddrPortFrom(ra, port(row[44:48]))
			pid = binary.LittleEndian.Uint32(row[52:56])
		} else {
			la, _ := netip.AddrFromSlice(row[4:8])
			ra, _ := netip.AddrFromSlice(row[12:16])
			l = netip.AddrPortFrom(la, port(row[8:12]))
			r = netip.AddrPortFrom(ra, port(row[16:20]))
			pid = binary.LittleEndian.Uint32(row[20:24])
		}
		if l.Port() == local.Port() && r.Port() == remote.Port() &&
			l.Addr().Unmap() == local.Addr().Unmap() && r.Addr().Unmap() == remote.Addr().Unmap() {
			return pid, true
		}
	}
	return 0, false
}
