package apdu_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

// h decodes hex written with optional spaces, e.g. "00 A4 04 0C". It panics
// on bad input: the hex strings are test constants.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("bad test hex %q: %v", s, err))
	}
	return b
}

// seq returns n bytes counting up from start, wrapping at 256.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// step is one expected command of a scripted card and the card's answer.
type step struct {
	cmd  string // hex of the command the host must send
	resp string // hex of the response APDU, data then SW
	err  error  // when set, Transmit fails with it instead of answering
}

// scriptCard is an apdu.Transmitter that expects a fixed sequence of
// commands and fails the test on any command it was not told to expect.
type scriptCard struct {
	t     *testing.T
	steps []step
	n     int
}

func newScript(t *testing.T, steps ...step) *scriptCard {
	t.Helper()
	return &scriptCard{t: t, steps: steps}
}

var errUnexpectedCommand = errors.New("scripted card: unexpected command")

func (s *scriptCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	if s.n >= len(s.steps) {
		s.t.Errorf("command #%d % X sent, but the script has only %d commands", s.n+1, cmd, len(s.steps))
		return nil, errUnexpectedCommand
	}
	st := s.steps[s.n]
	s.n++
	if want := h(st.cmd); !bytes.Equal(cmd, want) {
		s.t.Errorf("command #%d = % X, want % X", s.n, cmd, want)
		return nil, errUnexpectedCommand
	}
	if st.err != nil {
		return nil, st.err
	}
	return h(st.resp), nil
}

// done fails the test if some scripted commands were never sent.
func (s *scriptCard) done() {
	s.t.Helper()
	if s.n != len(s.steps) {
		s.t.Errorf("card received %d of %d scripted commands; next expected: %s", s.n, len(s.steps), s.steps[s.n].cmd)
	}
}

// mustBytes encodes c or fails the test.
func mustBytes(t *testing.T, c apdu.Command) []byte {
	t.Helper()
	b, err := c.Bytes()
	if err != nil {
		t.Fatalf("%v.Bytes(): %v", c, err)
	}
	return b
}

// equalCommand compares commands treating nil and empty Data alike.
func equalCommand(a, b apdu.Command) bool {
	return a.CLA == b.CLA && a.INS == b.INS && a.P1 == b.P1 && a.P2 == b.P2 &&
		bytes.Equal(a.Data, b.Data) && a.Le == b.Le && a.Extended == b.Extended
}

// fmtCommand shows a command with its data, for failure messages only.
func fmtCommand(c apdu.Command) string {
	return fmt.Sprintf("{%02X %02X %02X %02X Data[%d]=% X Le=%d Extended=%v}",
		c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Data, c.Le, c.Extended)
}
