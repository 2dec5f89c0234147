package sim

import (
	"context"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
)

func TestTA1(t *testing.T) {
	for _, tc := range []struct {
		name   string
		atr    []byte
		fi, di int
		etu    time.Duration // at 4 MHz
	}{
		// TA1=13: Fi=372, Di=4, 93 cycles per etu (pcsc_scan says the same).
		{"applet 1.7", atrRSA, 372, 4, 23250 * time.Nanosecond},
		// TA1=96: Fi=512, Di=32, 16 cycles per etu.
		{"applet 1.8", atrECC, 512, 32, 4 * time.Microsecond},
		{"no TA1", []byte{0x3B, 0x02, 0x14, 0x50}, 372, 1, 93 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, di, err := TA1(tc.atr)
			if err != nil || fi != tc.fi || di != tc.di {
				t.Fatalf("TA1 = %d, %d, %v; want %d, %d", fi, di, err, tc.fi, tc.di)
			}
			tm := Timing{ClockHz: DefaultClockHz, F: fi, D: di}
			if got := tm.ETU(); got != tc.etu {
				t.Errorf("etu %v, want %v", got, tc.etu)
			}
		})
	}
	for _, bad := range [][]byte{nil, {0x3B}, {0x3B, 0x10}, {0x3B, 0x10, 0x70}, {0x3B, 0x10, 0x1A}} {
		if _, _, err := TA1(bad); err == nil {
			t.Errorf("TA1(% X) accepted", bad)
		}
	}
}

func TestTimingModel(t *testing.T) {
	rsa, ecc := RealTiming(ProfileRSA), RealTiming(ProfileECC)
	read := apdu.Command{INS: apdu.InsReadBinary, Le: 252}
	data := apdu.Response{Data: make([]byte, 252), SW: apdu.SWOK}
	// 5 header + 1 procedure byte + 252 data + 2 status = 260 characters
	// of 12 etu: 72.54 ms on 1.7, 12.48 ms on 1.8.
	if got, want := rsa.WireTime(0, 252), 72540*time.Microsecond; got != want {
		t.Errorf("1.7 wire time of a 252-byte read %v, want %v", got, want)
	}
	if got, want := ecc.WireTime(0, 252), 12480*time.Microsecond; got != want {
		t.Errorf("1.8 wire time of a 252-byte read %v, want %v", got, want)
	}
	if got, want := rsa.CommandTime(read, data), 72540*time.Microsecond+rsa.Command; got != want {
		t.Errorf("1.7 read %v, want %v", got, want)
	}
	pso := apdu.Command{INS: apdu.InsPSO, P1: 0x9E, P2: 0x9A, Data: make([]byte, 48)}
	if got, want := ecc.CommandTime(pso, apdu.Response{SW: 0x6160}), ecc.WireTime(48, 0)+ecc.Command+ecc.Signature; got != want {
		t.Errorf("1.8 signature %v, want %v", got, want)
	}
	if got, want := ecc.CommandTime(pso, apdu.Response{SW: apdu.SWSecurityStatus}), ecc.WireTime(48, 0)+ecc.Command; got != want {
		t.Errorf("refused signature %v, want %v (no signature computed)", got, want)
	}
	verify := apdu.Command{INS: apdu.InsVerify, P2: 1, Data: make([]byte, 8)}
	if got := ecc.CommandTime(verify, apdu.Response{SW: apdu.SWOK}); got != ecc.WireTime(8, 0)+ecc.Command+ecc.Verify {
		t.Errorf("VERIFY %v", got)
	}
	if got := ecc.CommandTime(apdu.Command{INS: apdu.InsVerify, P2: 1}, apdu.Response{SW: 0x63C3}); got != ecc.WireTime(0, 0)+ecc.Command {
		t.Errorf("empty VERIFY (tries left) %v, want no PIN check time", got)
	}
}

func TestRealTimedCard(t *testing.T) {
	tm := RealTiming(ProfileECC)
	card, err := New(Options{Profile: ProfileECC, Timing: &tm})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cmds := [][]byte{
		{0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31}, // SELECT identity
		{0x00, 0xB0, 0x00, 0x00, 0x00},                                     // READ BINARY 256: 6Cxx
	}
	start := time.Now()
	var want time.Duration
	for _, b := range cmds {
		resp, err := card.Transmit(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		cmd, _ := apdu.ParseCommand(b)
		r, _ := apdu.ParseResponse(resp)
		want += tm.CommandTime(cmd, r)
		if r.SW.SW1() == 0x6C {
			want += tm.ResendRecovery
		}
	}
	elapsed := time.Since(start)
	got := card.CardTime()
	// The card sleeps at least the model's time; the timer may be late.
	if got < want || elapsed < want-tm.ResendRecovery {
		t.Errorf("card time %v, elapsed %v; the model says %v", got, elapsed, want)
	}
	if c, err := New(Options{Profile: ProfileECC, Timing: &Timing{}}); err == nil {
		t.Errorf("a timing without a clock accepted: %v", c)
	}
}
