package beid_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// muteSimCard is an applet 1.8 card that goes mute, as real cards do, when
// a command follows a 6Cxx answer sooner than gap.
func muteSimCard(t *testing.T, gap time.Duration) *sim.Card {
	t.Helper()
	pki, err := pkis[sim.ProfileECC]()
	if err != nil {
		t.Fatal(err)
	}
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: pki, MuteOnEarlyResend: gap})
	if err != nil {
		t.Fatal(err)
	}
	return card
}

// TestResendPause is D1: the driver pauses between a 6Cxx and the repeat
// with the exact length, and a card that needs the pause shows it.
func TestResendPause(t *testing.T) {
	ctx := context.Background()
	const gap = 20 * time.Millisecond

	t.Run("no pause: the card goes mute", func(t *testing.T) {
		card := muteSimCard(t, gap)
		_, err := beid.New(card, beid.WithResendDelay(0)).ReadFile(ctx, beid.FileIdentity)
		if !errors.Is(err, sim.ErrMute) {
			t.Fatalf("ReadFile = %v, want the card mute", err)
		}
		if !card.Mute() {
			t.Error("card not mute")
		}
		// Only a reset brings a mute card back.
		if _, err := card.Transmit(ctx, []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}); !errors.Is(err, sim.ErrMute) {
			t.Errorf("command after the mute one: %v, want still mute", err)
		}
		card.Reset()
		if _, err := beid.New(card, beid.WithResendDelay(gap+10*time.Millisecond)).CardData(ctx); err != nil {
			t.Errorf("after reset: %v", err)
		}
	})

	t.Run("pause: the whole card reads", func(t *testing.T) {
		card := muteSimCard(t, gap)
		got, err := beid.New(card, beid.WithResendDelay(gap+10*time.Millisecond)).ReadAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Integrity.Valid() {
			t.Errorf("integrity: %+v", got.Integrity)
		}
		exact := 0
		for _, e := range card.Log() {
			if e.SW.SW1() == 0x6C {
				exact++
			}
		}
		if exact == 0 {
			t.Error("no 6Cxx answered: the pause was not exercised")
		}
	})
}

func TestResendDelayDefaults(t *testing.T) {
	card := muteSimCard(t, 0)
	plain := apdu.TransmitterFunc(card.Transmit) // not a ResendPacer: a real reader
	for _, tc := range []struct {
		name string
		c    *beid.Card
		want time.Duration
	}{
		{"real reader", beid.New(plain), beid.DefaultResendDelay},
		{"simulator", beid.New(card), 0},
		{"option wins", beid.New(card, beid.WithResendDelay(7*time.Millisecond)), 7 * time.Millisecond},
		{"negative is none", beid.New(plain, beid.WithResendDelay(-time.Second)), 0},
	} {
		if got := tc.c.ResendDelay(); got != tc.want {
			t.Errorf("%s: ResendDelay = %v, want %v", tc.name, got, tc.want)
		}
	}
	if beid.DefaultResendDelay < 40*time.Millisecond {
		t.Errorf("DefaultResendDelay %v is shorter than OpenSC's 40 ms for BELPIC", beid.DefaultResendDelay)
	}
}
