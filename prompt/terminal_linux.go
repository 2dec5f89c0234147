package prompt

import (
	"errors"

	"golang.org/x/sys/unix"
)

const terminalSupported = true

// echoOff turns the terminal's echo off, keeping line editing, and
// returns what restores the previous mode.
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// flushInput discards what was typed and not yet read (tcflush(3),
// TCIFLUSH).
func flushInput(fd int) error {
	return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH)
}

// waker is a pipe whose reading end the reader polls beside the
// terminal, so that Close can end its wait.
type waker struct{ r, w int }

func newWaker() (waker, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return waker{}, err
	}
	return waker{r: p[0], w: p[1]}, nil
}

func (k waker) wake() { _, _ = unix.Write(k.w, []byte{0}) }

func (k waker) close() error {
	return errors.Join(unix.Close(k.r), unix.Close(k.w))
}

// waitInput waits until the terminal has input (in canonical mode: a
// whole line, or end of input), or wake is called.
func (k waker) waitInput(fd int) error {
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(k.r), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err == nil && fds[1].Revents != 0 {
			return ErrTerminalClosed
		}
		return err
	}
}

// hasInput reports, without waiting, whether the terminal has input or
// was hung up.
func hasInput(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

func readInput(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}
