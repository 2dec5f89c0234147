package nativemsg

import (
	"io"
	"net"
	"os"
)

// sendFiles: handles are not passed over the relay pipe on Windows; the
// host copies bytes.
func sendFiles(io.Writer, io.Reader, io.Writer) (bool, error) { return false, nil }

// readPreamble reads the byte preamble.
func readPreamble(conn net.Conn) ([]*os.File, error) { return nil, readMagic(conn, relayMagic) }

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
