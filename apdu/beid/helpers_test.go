package beid

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

// unhex decodes hex with optional spaces; test data only.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// step is one expected command and the response to give.
type step struct {
	cmd, resp string // hex
}

// script is a Transmitter that expects exactly the given commands in order.
type script struct {
	t     testing.TB
	steps []step
	n     int
}

func newScript(t testing.TB, steps ...step) *script { return &script{t: t, steps: steps} }

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.t.Helper()
	if s.n >= len(s.steps) {
		s.t.Fatalf("unexpected command %X after the script ended", cmd)
		return nil, fmt.Errorf("script ended")
	}
	st := s.steps[s.n]
	s.n++
	if want := unhex(s.t, st.cmd); string(want) != string(cmd) {
		s.t.Fatalf("command %d: got %X, want %X", s.n, cmd, want)
	}
	return unhex(s.t, st.resp), nil
}

// done fails the test unless every scripted command was sent.
func (s *script) done() {
	s.t.Helper()
	if s.n != len(s.steps) {
		s.t.Errorf("%d of %d scripted commands sent", s.n, len(s.steps))
	}
}

// fileCard is a minimal card for file reading tests: SELECT by path and
// READ BINARY over a map of files, answering an over-long Le with 6Cxx as
// BELPIC does or, when shortReads is set, with the short data.
type fileCard struct {
	files      map[string][]byte // key: path in hex, e.g. "3F00DF014031"
	shortReads bool
	current    []byte
	reads      int // READ BINARY commands received
	cmds       int
}

func (c *fileCard) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	c.cmds++
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return []byte{0x67, 0x00}, nil
	}
	switch cmd.INS {
	case apdu.InsSelect:
		if cmd.P1 != 0x08 || cmd.P2 != 0x0C || cmd.Le != 0 {
			return []byte{0x6A, 0x86}, nil
		}
		f, ok := c.files[fmt.Sprintf("%X", cmd.Data)]
		if !ok {
			return []byte{0x6A, 0x82}, nil
		}
		c.current = f
		return []byte{0x90, 0x00}, nil
	case apdu.InsReadBinary:
		c.reads++
		off := int(cmd.P1)<<8 | int(cmd.P2)
		if off >= len(c.current) {
			return []byte{0x6B, 0x00}, nil
		}
		rest := len(c.current) - off
		le := cmd.Le
		if le > rest {
			if !c.shortReads {
				return []byte{0x6C, byte(rest)}, nil
			}
			le = rest
		}
		return append(append([]byte(nil), c.current[off:off+le]...), 0x90, 0x00), nil
	}
	return []byte{0x6D, 0x00}, nil
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256 + 1)
	}
	return b
}

// hexBytes decodes hex that the test itself wrote; it panics on a typo.
func hexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}
