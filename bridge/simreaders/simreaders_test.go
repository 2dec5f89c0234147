package simreaders_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

func TestReaders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	card, err := sim.New(sim.Options{PIN: "4321"})
	if err != nil {
		t.Fatal(err)
	}
	r := simreaders.New("A")
	list, _ := r.List(ctx)
	if len(list) != 1 || list[0].CardPresent {
		t.Fatalf("List = %+v", list)
	}
	if _, err := r.Open(ctx, "A"); !errors.Is(err, bridge.ErrNoCard) {
		t.Errorf("Open empty: %v", err)
	}
	if _, err := r.Open(ctx, "B"); !errors.Is(err, bridge.ErrNoReader) {
		t.Errorf("Open missing: %v", err)
	}

	got := make(chan []bridge.ReaderInfo, 1)
	go func() {
		l, _ := r.Watch(ctx, list)
		got <- l
	}()
	r.Insert("A", card)
	if l := <-got; !l[0].CardPresent || len(l[0].ATR) == 0 {
		t.Errorf("Watch after insert = %+v", l)
	}

	s, err := r.Open(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(ctx, "A"); !errors.Is(err, bridge.ErrReaderBusy) {
		t.Errorf("second Open: %v", err)
	}
	if s.Pinpad() != nil {
		t.Error("pinpad without SetPinpad")
	}
	if _, _, err := beid.New(s).Identity(ctx); err != nil {
		t.Fatal(err)
	}
	r.Remove("A")
	if _, err := s.Transmit(ctx, []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}); !errors.Is(err, bridge.ErrCardRemoved) {
		t.Errorf("Transmit after removal: %v", err)
	}
	s.Close()

	// The simulated keypad builds a VERIFY the card accepts.
	r.Insert("A", card)
	r.SetPinpad("A", func(context.Context) ([]byte, error) { return []byte("4321"), nil })
	s, err = r.Open(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := beid.New(s).VerifyPINPinpad(ctx, s.Pinpad(), "en"); err != nil {
		t.Errorf("pinpad verify: %v", err)
	}
	if r.PINVerifies() != 1 || card.TriesLeft() != 3 {
		t.Errorf("VERIFYs %d, tries %d", r.PINVerifies(), card.TriesLeft())
	}

	r.SetServiceError(bridge.ErrNoService)
	if _, err := r.List(ctx); !errors.Is(err, bridge.ErrNoService) {
		t.Errorf("List without service: %v", err)
	}
}
