// Package nativemsg is the native-messaging transport of protocol v1: the
// host a browser starts for the cardbridge extension, speaking the
// browsers' stdio framing, and the per-user relay through which the host
// hands its session to the running daemon.
//
// The browser starts the host with the caller's identity on the command
// line (ParseCaller) and the extension's first message names the page's
// origin, taken from the browser's sender information (docs/protocol.md,
// "Transport"). Serve admits that origin through a bridge.Core, answers
// "refused" or "hello", and then carries protocol v1 messages unchanged.
package nativemsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxToBrowser is the largest message a host may send: "The maximum size
// of a single message from the native messaging host is 1 MB" (Chrome's
// native messaging documentation; Firefox documents the same limit).
const MaxToBrowser = 1 << 20

// Errors of the framing.
var (
	// ErrFrameTooLarge: a frame's length is over the limit. Reading, the
	// stream cannot be trusted past it; writing, nothing was written.
	ErrFrameTooLarge = errors.New("nativemsg: message too large")
	// ErrTruncated: the stream ended inside a frame.
	ErrTruncated = errors.New("nativemsg: stream ended inside a message")
)

// ReadFrame reads one message: a 32-bit length in the machine's native
// byte order, then that many bytes (UTF-8 JSON, which the caller checks).
// Both Chrome and Firefox document the length as "native byte order". It
// returns io.EOF when r ends before a frame starts, ErrTruncated (which
// wraps io.ErrUnexpectedEOF) when it ends inside one, and ErrFrameTooLarge
// when the length is over max; then no more of r is read, so an oversized
// claim costs no memory.
func ReadFrame(r io.Reader, max int64) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: in the length (%w)", ErrTruncated, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	n := int64(binary.NativeEndian.Uint32(hdr[:]))
	if n > max {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, n, max)
	}
	b := make([]byte, n)
	if got, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %d of %d bytes (%w)", ErrTruncated, got, n, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	return b, nil
}

// WriteFrame writes b as one message, in a single Write so that a
// message is never interleaved with another writer's. A message over
// MaxToBrowser is refused with ErrFrameTooLarge, and nothing is written:
// the browser would end the session on it.
func WriteFrame(w io.Writer, b []byte) error {
	if len(b) > MaxToBrowser {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, len(b), MaxToBrowser)
	}
	buf := make([]byte, 4+len(b))
	binary.NativeEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err := w.Write(buf)
	return err
}
