package apdu_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
)

var readBinary = apdu.Command{INS: apdu.InsReadBinary, Le: 256}

var selectFile = apdu.Command{INS: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: h("DF01 4031")}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func TestExchange(t *testing.T) {
	tests := []struct {
		name     string
		cmd      apdu.Command
		steps    []step
		wantData []byte
		wantSW   apdu.StatusWord
	}{
		{
			name:     "plain 9000",
			cmd:      apdu.Command{INS: apdu.InsReadBinary, Le: 4},
			steps:    []step{{cmd: "00 B0 00 00 04", resp: "01020304 9000"}},
			wantData: h("01020304"),
			wantSW:   0x9000,
		},
		{
			name:   "error status word returned as is",
			cmd:    selectFile,
			steps:  []step{{cmd: "00 A4 08 0C 04 DF014031", resp: "6A82"}},
			wantSW: 0x6A82,
		},
		{
			name:   "warning status word returned as is",
			cmd:    selectFile,
			steps:  []step{{cmd: "00 A4 08 0C 04 DF014031", resp: "6283"}},
			wantSW: 0x6283,
		},
		{
			name: "6Cxx retried once with the exact Le",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "6C 10"},
				{cmd: "00 B0 00 00 10", resp: hexs(seq(0, 16)) + "9000"},
			},
			wantData: seq(0, 16),
			wantSW:   0x9000,
		},
		{
			name: "6C00 means Le 256",
			cmd:  apdu.Command{INS: apdu.InsReadBinary, Le: 16},
			steps: []step{
				{cmd: "00 B0 00 00 10", resp: "6C 00"},
				{cmd: "00 B0 00 00 00", resp: hexs(seq(0, 256)) + "9000"},
			},
			wantData: seq(0, 256),
			wantSW:   0x9000,
		},
		{
			name: "6Cxx to a command without Le",
			cmd:  apdu.Command{CLA: 0x80, INS: 0xE4, P2: 0x01},
			steps: []step{
				{cmd: "80 E4 00 01", resp: "6C 1C"},
				{cmd: "80 E4 00 01 1C", resp: hexs(seq(0x40, 28)) + "9000"},
			},
			wantData: seq(0x40, 28),
			wantSW:   0x9000,
		},
		{
			name: "6Cxx retry keeps the data of a case 4 command",
			cmd:  apdu.Command{INS: apdu.InsInternalAuth, Data: h("0102"), Le: 256},
			steps: []step{
				{cmd: "00 88 00 00 02 0102 00", resp: "6C 08"},
				{cmd: "00 88 00 00 02 0102 08", resp: "1122334455667788 9000"},
			},
			wantData: h("1122334455667788"),
			wantSW:   0x9000,
		},
		{
			name: "6Cxx retry answered with an error",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "6C 10"},
				{cmd: "00 B0 00 00 10", resp: "6982"},
			},
			wantSW: 0x6982,
		},
		{
			name: "61xx followed by GET RESPONSE",
			cmd:  selectFile,
			steps: []step{
				{cmd: "00 A4 08 0C 04 DF014031", resp: "61 10"},
				{cmd: "00 C0 00 00 10", resp: hexs(seq(0, 16)) + "9000"},
			},
			wantData: seq(0, 16),
			wantSW:   0x9000,
		},
		{
			name: "61xx keeps the data that came with it",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "AABB 61 02"},
				{cmd: "00 C0 00 00 02", resp: "CCDD 9000"},
			},
			wantData: h("AABBCCDD"),
			wantSW:   0x9000,
		},
		{
			name: "several rounds with 6100 meaning 256",
			cmd:  selectFile,
			steps: []step{
				{cmd: "00 A4 08 0C 04 DF014031", resp: "61 00"},
				{cmd: "00 C0 00 00 00", resp: hexs(seq(0, 256)) + "61 00"},
				{cmd: "00 C0 00 00 00", resp: hexs(seq(1, 256)) + "61 05"},
				{cmd: "00 C0 00 00 05", resp: "0102030405 9000"},
			},
			wantData: cat(seq(0, 256), seq(1, 256), h("0102030405")),
			wantSW:   0x9000,
		},
		{
			name: "GET RESPONSE answered 6Cxx is retried with the exact Le",
			cmd:  selectFile,
			steps: []step{
				{cmd: "00 A4 08 0C 04 DF014031", resp: "61 10"},
				{cmd: "00 C0 00 00 10", resp: "6C 08"},
				{cmd: "00 C0 00 00 08", resp: hexs(seq(0, 8)) + "9000"},
			},
			wantData: seq(0, 8),
			wantSW:   0x9000,
		},
		{
			name: "6Cxx then 61xx",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "6C 10"},
				{cmd: "00 B0 00 00 10", resp: "61 10"},
				{cmd: "00 C0 00 00 10", resp: hexs(seq(0, 16)) + "9000"},
			},
			wantData: seq(0, 16),
			wantSW:   0x9000,
		},
		{
			name: "61xx ending in a warning keeps data and status word",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "61 04"},
				{cmd: "00 C0 00 00 04", resp: "01020304 6282"},
			},
			wantData: h("01020304"),
			wantSW:   0x6282,
		},
		{
			name: "GET RESPONSE keeps the logical channel",
			cmd:  apdu.Command{CLA: 0x03, INS: apdu.InsSelect, P1: 0x04, Data: h("A000000177")},
			steps: []step{
				{cmd: "03 A4 04 00 05 A000000177", resp: "61 02"},
				{cmd: "03 C0 00 00 02", resp: "6F00 9000"},
			},
			wantData: h("6F00"),
			wantSW:   0x9000,
		},
		{
			name: "GET RESPONSE of a proprietary class command uses CLA 00",
			cmd:  apdu.Command{CLA: 0x80, INS: 0xE4, P2: 0x01, Le: 0x1C},
			steps: []step{
				{cmd: "80 E4 00 01 1C", resp: "61 1C"},
				{cmd: "00 C0 00 00 1C", resp: hexs(seq(0, 28)) + "9000"},
			},
			wantData: seq(0, 28),
			wantSW:   0x9000,
		},
		{
			name: "GET RESPONSE drops the chaining bit",
			cmd:  apdu.Command{CLA: 0x10, INS: apdu.InsPSO, P1: 0x9E, P2: 0x9A, Data: h("01")},
			steps: []step{
				{cmd: "10 2A 9E 9A 01 01", resp: "61 01"},
				{cmd: "00 C0 00 00 01", resp: "FF 9000"},
			},
			wantData: h("FF"),
			wantSW:   0x9000,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := newScript(t, tc.steps...)
			resp, err := apdu.Exchange(t.Context(), card, tc.cmd)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			card.done()
			if resp.SW != tc.wantSW {
				t.Errorf("SW = %v, want %v", resp.SW, tc.wantSW)
			}
			if !bytes.Equal(resp.Data, tc.wantData) {
				t.Errorf("Data =\n% X\nwant\n% X", resp.Data, tc.wantData)
			}
		})
	}
}

func TestExchangeProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		cmd   apdu.Command
		steps []step
	}{
		{
			name:  "6Cxx to a command that already has that Le",
			cmd:   apdu.Command{INS: apdu.InsReadBinary, Le: 16},
			steps: []step{{cmd: "00 B0 00 00 10", resp: "6C 10"}},
		},
		{
			name:  "6C00 to a command with Le 256",
			cmd:   readBinary,
			steps: []step{{cmd: "00 B0 00 00 00", resp: "6C 00"}},
		},
		{
			name: "same 6Cxx to the exact-Le retry",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "6C 10"},
				{cmd: "00 B0 00 00 10", resp: "6C 10"},
			},
		},
		{
			name: "different 6Cxx to the exact-Le retry",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "6C 10"},
				{cmd: "00 B0 00 00 10", resp: "6C 08"},
			},
		},
		{
			name: "GET RESPONSE answered 6Cxx with its own Le",
			cmd:  selectFile,
			steps: []step{
				{cmd: "00 A4 08 0C 04 DF014031", resp: "61 10"},
				{cmd: "00 C0 00 00 10", resp: "6C 10"},
			},
		},
		{
			name: "GET RESPONSE retry answered 6Cxx again",
			cmd:  selectFile,
			steps: []step{
				{cmd: "00 A4 08 0C 04 DF014031", resp: "61 10"},
				{cmd: "00 C0 00 00 10", resp: "6C 08"},
				{cmd: "00 C0 00 00 08", resp: "6C 04"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := newScript(t, tc.steps...)
			resp, err := apdu.Exchange(t.Context(), card, tc.cmd)
			if !errors.Is(err, apdu.ErrProtocol) {
				t.Fatalf("Exchange = {% X, %v}, %v; want ErrProtocol", resp.Data, resp.SW, err)
			}
			card.done()
		})
	}
}

// TestExchangeEndlessMoreData checks that a card answering 61xx forever
// makes Exchange fail rather than hang.
func TestExchangeEndlessMoreData(t *testing.T) {
	const runaway = 100000
	calls := 0
	card := apdu.TransmitterFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		calls++
		if calls > runaway {
			return nil, errors.New("runaway GET RESPONSE loop")
		}
		if calls > 1 && !bytes.Equal(cmd, h("00 C0 00 00 01")) {
			t.Errorf("call %d: command % X, want GET RESPONSE Le=1", calls, cmd)
		}
		return h("EE 61 01"), nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := apdu.Exchange(ctx, card, selectFile)
	if !errors.Is(err, apdu.ErrProtocol) {
		t.Fatalf("Exchange = %d bytes, %v, %v; want ErrProtocol", len(resp.Data), resp.SW, err)
	}
	if calls > 1000 {
		t.Errorf("gave up only after %d commands", calls)
	}
	if resp.Data != nil {
		t.Errorf("partial data returned with the error: %d bytes", len(resp.Data))
	}
}

func TestExchangeTransmitError(t *testing.T) {
	errReader := errors.New("reader unplugged")
	tests := []struct {
		name  string
		steps []step
	}{
		{"first command", []step{{cmd: "00 A4 08 0C 04 DF014031", err: errReader}}},
		{"GET RESPONSE", []step{
			{cmd: "00 A4 08 0C 04 DF014031", resp: "61 10"},
			{cmd: "00 C0 00 00 10", err: errReader},
		}},
		{"exact-Le retry", []step{
			{cmd: "00 A4 08 0C 04 DF014031", resp: "6C 10"},
			{cmd: "00 A4 08 0C 04 DF014031 10", err: errReader},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := newScript(t, tc.steps...)
			if _, err := apdu.Exchange(t.Context(), card, selectFile); !errors.Is(err, errReader) {
				t.Fatalf("Exchange error = %v, want %v", err, errReader)
			}
			card.done()
			if _, err := apdu.Run(t.Context(), newScript(t, tc.steps...), selectFile); !errors.Is(err, errReader) {
				t.Fatalf("Run error = %v, want %v", err, errReader)
			}
		})
	}
}

func TestExchangeMalformedResponse(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"empty", []step{{cmd: "00 A4 08 0C 04 DF014031", resp: ""}}},
		{"one byte", []step{{cmd: "00 A4 08 0C 04 DF014031", resp: "90"}}},
		{"one byte to GET RESPONSE", []step{
			{cmd: "00 A4 08 0C 04 DF014031", resp: "61 10"},
			{cmd: "00 C0 00 00 10", resp: "61"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := newScript(t, tc.steps...)
			if _, err := apdu.Exchange(t.Context(), card, selectFile); !errors.Is(err, apdu.ErrMalformedResponse) {
				t.Fatalf("Exchange error = %v, want ErrMalformedResponse", err)
			}
			card.done()
		})
	}
}

func TestExchangeInvalidCommand(t *testing.T) {
	card := newScript(t) // expects no command at all
	_, err := apdu.Exchange(t.Context(), card, apdu.Command{Le: -1})
	if !errors.Is(err, apdu.ErrInvalidCommand) {
		t.Fatalf("Exchange error = %v, want ErrInvalidCommand", err)
	}
}

func TestExchangeContextDone(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := newScript(t) // any command fails the test
			if _, err := apdu.Exchange(tc.ctx, card, selectFile); err != tc.want {
				t.Errorf("Exchange error = %v, want exactly %v", err, tc.want)
			}
			if _, err := apdu.Run(tc.ctx, card, selectFile); err != tc.want {
				t.Errorf("Run error = %v, want exactly %v", err, tc.want)
			}
		})
	}
}

// TestExchangeCanceledBetweenRounds checks that the context is looked at
// again before each GET RESPONSE, not only before the first command.
func TestExchangeCanceledBetweenRounds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	card := apdu.TransmitterFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		calls++
		cancel() // the user gives up while the card is answering
		return h("61 10"), nil
	})
	if _, err := apdu.Exchange(ctx, card, selectFile); !errors.Is(err, context.Canceled) {
		t.Fatalf("Exchange error = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("%d commands sent, want 1", calls)
	}
}

func TestRun(t *testing.T) {
	card := newScript(t,
		step{cmd: "00 A4 08 0C 04 DF014031", resp: "61 04"},
		step{cmd: "00 C0 00 00 04", resp: "01020304 9000"},
	)
	data, err := apdu.Run(t.Context(), card, selectFile)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	card.done()
	if !bytes.Equal(data, h("01020304")) {
		t.Errorf("Run data = % X, want 01 02 03 04", data)
	}
}

func TestRunStatusError(t *testing.T) {
	pinBlock := h("24 12 34 FF FF FF FF FF")
	verify := apdu.Command{INS: apdu.InsVerify, P2: 0x01, Data: pinBlock}
	tests := []struct {
		name     string
		cmd      apdu.Command
		steps    []step
		sentinel error
		sw       apdu.StatusWord
	}{
		{
			name:     "file not found",
			cmd:      selectFile,
			steps:    []step{{cmd: "00 A4 08 0C 04 DF014031", resp: "6A82"}},
			sentinel: apdu.ErrFileNotFound,
			sw:       0x6A82,
		},
		{
			name:     "wrong PIN",
			cmd:      verify,
			steps:    []step{{cmd: "00 20 00 01 08 2412 34FF FFFF FFFF", resp: "63C2"}},
			sentinel: apdu.ErrVerificationFailed,
			sw:       0x63C2,
		},
		{
			name:     "PIN blocked",
			cmd:      verify,
			steps:    []step{{cmd: "00 20 00 01 08 2412 34FF FFFF FFFF", resp: "6983"}},
			sentinel: apdu.ErrBlocked,
			sw:       0x6983,
		},
		{
			name: "error after GET RESPONSE",
			cmd:  readBinary,
			steps: []step{
				{cmd: "00 B0 00 00 00", resp: "61 02"},
				{cmd: "00 C0 00 00 02", resp: "0102 6B00"},
			},
			sentinel: apdu.ErrWrongParameters,
			sw:       0x6B00,
		},
		{
			name:     "warning is not success",
			cmd:      selectFile,
			steps:    []step{{cmd: "00 A4 08 0C 04 DF014031", resp: "6283"}},
			sentinel: apdu.ErrFileDeactivated,
			sw:       0x6283,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := newScript(t, tc.steps...)
			data, err := apdu.Run(t.Context(), card, tc.cmd)
			card.done()
			if err == nil {
				t.Fatalf("Run = % X, nil; want an error", data)
			}
			if data != nil {
				t.Errorf("Run returned data % X along with an error", data)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			if !errors.Is(err, apdu.ErrUnexpectedStatusWord) {
				t.Errorf("errors.Is(%v, ErrUnexpectedStatusWord) = false", err)
			}
			var se *apdu.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("errors.As(%v, *StatusError) = false", err)
			}
			if se.SW != tc.sw {
				t.Errorf("StatusError.SW = %v, want %v", se.SW, tc.sw)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.cmd.String()) {
				t.Errorf("error %q does not name the command %q", msg, tc.cmd)
			}
			if tc.cmd.INS == apdu.InsVerify {
				for _, leak := range []string{"1234", "12 34", "2412", "24 12"} {
					if strings.Contains(msg, leak) {
						t.Errorf("error %q shows the PIN block", msg)
					}
				}
			}
		})
	}
}

// stampCard answers 6C10 to the first READ BINARY and 16 bytes to the
// second, and records when each command arrived.
type stampCard struct{ at []time.Time }

func (s *stampCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.at = append(s.at, time.Now())
	if cmd[4] != 0x10 {
		return h("6C 10"), nil
	}
	return append(seq(0, 16), 0x90, 0x00), nil
}

func TestExchangerResendDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{{"no pause", 0}, {"pause", delay}} {
		t.Run(tc.name, func(t *testing.T) {
			card := &stampCard{}
			x := apdu.Exchanger{ResendDelay: tc.delay}
			data, err := x.Run(context.Background(), card, apdu.Command{INS: apdu.InsReadBinary, Le: 256})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, seq(0, 16)) || len(card.at) != 2 {
				t.Fatalf("data % X after %d commands", data, len(card.at))
			}
			gap := card.at[1].Sub(card.at[0])
			if gap < tc.delay {
				t.Errorf("resend %v after the 6Cxx, want at least %v", gap, tc.delay)
			}
		})
	}
}

func TestExchangerResendDelayCancelled(t *testing.T) {
	card := &stampCard{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	x := apdu.Exchanger{ResendDelay: time.Hour}
	_, err := x.Exchange(ctx, card, apdu.Command{INS: apdu.InsReadBinary, Le: 256})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if len(card.at) != 1 {
		t.Errorf("%d commands sent, want the resend left out", len(card.at))
	}
}
