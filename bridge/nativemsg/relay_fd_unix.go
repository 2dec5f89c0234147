//go:build unix

package nativemsg

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// sendFiles hands the browser's pipes (in and out) to the daemon with the
// fd preamble (SCM_RIGHTS, unix(7)), so that the daemon reads and writes
// the browser's frames itself and no byte goes through the host. It
// reports false, having sent nothing, when in, out or conn are not what it
// takes; the host then copies bytes.
func sendFiles(conn io.Writer, in io.Reader, out io.Writer) (bool, error) {
	uc, ok1 := conn.(*net.UnixConn)
	fin, ok2 := in.(*os.File)
	fout, ok3 := out.(*os.File)
	if !ok1 || !ok2 || !ok3 {
		return false, nil
	}
	rights := unix.UnixRights(int(fin.Fd()), int(fout.Fd()))
	if _, _, err := uc.WriteMsgUnix([]byte(relayMagicFiles), rights, nil); err != nil {
		return true, fmt.Errorf("nativemsg: relay: %w", err)
	}
	return true, nil
}

// readPreamble reads a relay connection's preamble. With the fd preamble
// it returns the browser's pipes the host sent (its stdin, then its
// stdout); with the byte preamble, none.
func readPreamble(conn net.Conn) ([]*os.File, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, readMagic(conn, relayMagic)
	}
	buf := make([]byte, len(relayMagic))
	oob := make([]byte, unix.CmsgSpace(2*4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	if oobn > 0 {
		if files, err = parseFiles(oob[:oobn]); err != nil {
			return nil, err
		}
	}
	if n < len(buf) {
		if _, err := io.ReadFull(conn, buf[n:]); err != nil {
			closeFiles(files)
			return nil, err
		}
	}
	switch string(buf) {
	case relayMagic:
		if files == nil {
			return nil, nil
		}
	case relayMagicFiles:
		if len(files) == 2 {
			return files, nil
		}
	}
	closeFiles(files)
	return nil, errors.New("nativemsg: bad relay preamble")
}

func parseFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			// Non-blocking, so that the runtime poller owns it and Close
			// ends a read in progress.
			unix.SetNonblock(fd, true)
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "relayed"))
		}
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
