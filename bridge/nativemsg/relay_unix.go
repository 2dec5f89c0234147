//go:build unix

package nativemsg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// relayFile is the relay socket's name inside its directory.
const relayFile = "relay.sock"

// DefaultRelayPath is where the daemon listens for hosts:
// $XDG_RUNTIME_DIR/cardbridge/relay.sock (a directory only the user can
// enter, removed at logout), else a cardbridge-UID directory in the
// temporary directory, which ListenRelay and DialRelay accept only when
// the user owns it and nobody else can enter it.
func DefaultRelayPath() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "cardbridge", relayFile), nil
	}
	return filepath.Join(os.TempDir(), "cardbridge-"+strconv.Itoa(os.Getuid()), relayFile), nil
}

// PrivateDir returns the directory of the relay at path, made when
// missing (mode 0700) and checked to be this user's alone: the place for
// other per-user run-time files of cardbridge.
func PrivateDir(path string) (string, error) {
	dir := filepath.Dir(path)
	return dir, privateDir(dir)
}

// privateDir makes dir (mode 0700) when missing and checks that it is a
// real directory, owned by this user, that no other user can enter: a
// directory another user controls could hold their socket in our name.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("nativemsg: relay directory: %w", err)
	}
	return checkPrivateDir(dir)
}

func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("nativemsg: relay directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("nativemsg: relay directory %s is not a private directory of this user", dir)
	}
	return nil
}

// ListenRelay listens on the relay socket at path for the hosts of this
// user. The socket is mode 0600 in a private directory, and every
// connection's peer uid is checked (SO_PEERCRED, LOCAL_PEERCRED) before
// it is returned by Accept. A second daemon gets ErrRelayInUse. Closing
// the listener removes the socket.
func ListenRelay(path string, log *slog.Logger) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nativemsg: relay lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrRelayInUse, path)
		}
		return nil, fmt.Errorf("nativemsg: relay lock: %w", err)
	}
	// Holding the lock, any socket left there is a dead daemon's.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("nativemsg: relay: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("nativemsg: relay: %w", err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		lock.Close()
		return nil, fmt.Errorf("nativemsg: relay: %w", err)
	}
	return newPeerListener(ln, checkSameUser, log, func() { lock.Close() }), nil
}

// DialRelay connects to the daemon's relay socket at path, and checks that
// the daemon is this user's.
func DialRelay(ctx context.Context, path string) (net.Conn, error) {
	if err := checkPrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	if err := checkSameUser(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkSameUser checks that the peer of a Unix socket runs as this user.
func checkSameUser(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("%w: not a Unix socket", ErrRelayPeer)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var uid int
	var perr error
	if err := raw.Control(func(fd uintptr) { uid, perr = peerUID(int(fd)) }); err != nil {
		return err
	}
	if perr != nil {
		return fmt.Errorf("%w: %w", ErrRelayPeer, perr)
	}
	if uid != os.Getuid() {
		return fmt.Errorf("%w: uid %d", ErrRelayPeer, uid)
	}
	return nil
}
