package nativemsg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// DefaultRelayPath is the daemon's named pipe, one per user:
// \\.\pipe\cardbridge-relay-<SID>.
func DefaultRelayPath() (string, error) {
	sid, err := currentSID()
	if err != nil {
		return "", err
	}
	return `\\.\pipe\cardbridge-relay-` + sid.String(), nil
}

func currentSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("nativemsg: current user: %w", err)
	}
	return tu.User.Sid, nil
}

// ListenRelay creates the relay pipe at path. Its DACL grants access to
// this user's SID alone (protected, so nothing is inherited), remote
// clients are rejected, the first instance is created with
// FILE_FLAG_FIRST_PIPE_INSTANCE so that a pipe another process created
// first is an error (ErrRelayInUse), and each client's process token is
// checked to be this user's before Accept returns it.
func ListenRelay(path string, log *slog.Logger) (net.Listener, error) {
	sid, err := currentSID()
	if err != nil {
		return nil, err
	}
	// D:P = protected DACL; (A;;GA;;;SID) = generic all for the user.
	sd, err := windows.SecurityDescriptorFromString("D:P(A;;GA;;;" + sid.String() + ")")
	if err != nil {
		return nil, fmt.Errorf("nativemsg: relay pipe security: %w", err)
	}
	pl := &pipeListener{path: path, sid: sid, sa: &windows.SecurityAttributes{SecurityDescriptor: sd}}
	pl.sa.Length = uint32(unsafe.Sizeof(*pl.sa))
	h, err := pl.create(true)
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, fmt.Errorf("%w (%s)", ErrRelayInUse, path)
		}
		return nil, err
	}
	pl.next = h
	return newPeerListener(pl, func(net.Conn) error { return nil }, log, nil), nil
}

type pipeListener struct {
	path string
	sid  *windows.SID
	sa   *windows.SecurityAttributes

	mu     sync.Mutex
	next   windows.Handle // the instance the next Accept waits on
	closed bool
}

func (pl *pipeListener) create(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(pl.path)
	if err != nil {
		return 0, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	mode := uint32(windows.PIPE_TYPE_BYTE | windows.PIPE_READMODE_BYTE | windows.PIPE_WAIT | windows.PIPE_REJECT_REMOTE_CLIENTS)
	h, err := windows.CreateNamedPipe(name, flags, mode, windows.PIPE_UNLIMITED_INSTANCES, 64<<10, 64<<10, 0, pl.sa)
	if err != nil {
		return 0, fmt.Errorf("nativemsg: relay pipe: %w", err)
	}
	return h, nil
}

func (pl *pipeListener) Accept() (net.Conn, error) {
	for {
		pl.mu.Lock()
		if pl.closed {
			pl.mu.Unlock()
			return nil, net.ErrClosed
		}
		h := pl.next
		pl.mu.Unlock()
		err := windows.ConnectNamedPipe(h, nil)
		if err != nil && !errors.Is(err, windows.ERROR_PIPE_CONNECTED) {
			return nil, fmt.Errorf("nativemsg: relay pipe: %w", err)
		}
		pl.mu.Lock()
		if pl.closed {
			pl.mu.Unlock()
			windows.CloseHandle(h)
			return nil, net.ErrClosed
		}
		nh, cerr := pl.create(false)
		if cerr != nil {
			pl.mu.Unlock()
			windows.CloseHandle(h)
			return nil, cerr
		}
		pl.next = nh
		pl.mu.Unlock()
		var pid uint32
		if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil || !processIsUser(pid, pl.sid) {
			windows.DisconnectNamedPipe(h)
			windows.CloseHandle(h)
			continue
		}
		return &pipeConn{File: os.NewFile(uintptr(h), pl.path), path: pl.path}, nil
	}
}

// Close stops Accept: it marks the listener closed and connects to the
// pending instance itself, which ends the ConnectNamedPipe wait.
func (pl *pipeListener) Close() error {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil
	}
	pl.closed = true
	pl.mu.Unlock()
	if c, err := dialPipe(pl.path); err == nil {
		c.Close()
	}
	return nil
}

func (pl *pipeListener) Addr() net.Addr { return pipeAddr(pl.path) }

// processIsUser reports whether process pid runs as sid.
func processIsUser(pid uint32, sid *windows.SID) bool {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return false
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return false
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return false
	}
	return windows.EqualSid(tu.User.Sid, sid)
}

func dialPipe(path string) (*pipeConn, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	// SECURITY_IDENTIFICATION: the server may identify this client, not
	// act as it.
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
		windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
	if err != nil {
		return nil, err
	}
	return &pipeConn{File: os.NewFile(uintptr(h), path), path: path}, nil
}

// DialRelay opens the daemon's relay pipe and checks that the process
// serving it runs as this user.
func DialRelay(ctx context.Context, path string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := dialPipe(path)
	if err != nil {
		return nil, err
	}
	sid, err := currentSID()
	if err != nil {
		c.Close()
		return nil, err
	}
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(windows.Handle(c.Fd()), &pid); err != nil || !processIsUser(pid, sid) {
		c.Close()
		return nil, fmt.Errorf("%w: the pipe's server", ErrRelayPeer)
	}
	return c, nil
}

// pipeConn is a connected pipe instance as a net.Conn. Pipes opened
// without FILE_FLAG_OVERLAPPED have no deadlines.
type pipeConn struct {
	*os.File
	path string
}

func (c *pipeConn) LocalAddr() net.Addr                { return pipeAddr(c.path) }
func (c *pipeConn) RemoteAddr() net.Addr               { return pipeAddr(c.path) }
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }
