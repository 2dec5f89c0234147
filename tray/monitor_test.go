package tray

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

func TestStateOf(t *testing.T) {
	ecc, _ := sim.New(sim.Options{Profile: sim.ProfileECC})
	rsa, _ := sim.New(sim.Options{Profile: sim.ProfileRSA})
	tests := []struct {
		readers []bridge.ReaderInfo
		err     error
		want    State
	}{
		{nil, fmt.Errorf("x: %w", bridge.ErrNoService), StateNoService},
		{nil, fmt.Errorf("odd"), StateStarting},
		{nil, nil, StateNoReader},
		{[]bridge.ReaderInfo{{Name: "A"}}, nil, StateNoCard},
		{[]bridge.ReaderInfo{{Name: "A", CardPresent: true, ATR: []byte{0x3b, 0x00}}}, nil, StateNoCard}, // not an eID
		{[]bridge.ReaderInfo{{Name: "A"}, {Name: "B", CardPresent: true, ATR: ecc.ATR()}}, nil, StateCardPresent},
		{[]bridge.ReaderInfo{{Name: "A", CardPresent: true, ATR: rsa.ATR()}}, nil, StateCardPresent},
	}
	for i, tt := range tests {
		if got := StateOf(tt.readers, tt.err); got != tt.want {
			t.Errorf("%d: StateOf = %v, want %v", i, got, tt.want)
		}
	}
}

func TestMonitorFollowsReaders(t *testing.T) {
	r := simreaders.New("Reader A")
	m := NewMonitor(r, nil)
	m.retry = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	expect := func(want State) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case s := <-m.States():
				if s == want {
					return
				}
			case <-deadline:
				t.Fatalf("state %v never came", want)
			}
		}
	}
	expect(StateNoCard)
	card, err := sim.New(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Insert("Reader A", card)
	expect(StateCardPresent)

	// The daemon using the card shows as busy, until it closes the session.
	s, err := m.Open(ctx, "Reader A")
	if err != nil {
		t.Fatal(err)
	}
	expect(StateBusy)
	s.Close()
	s.Close() // a double close must not make the count negative
	expect(StateCardPresent)

	r.Remove("Reader A")
	expect(StateNoCard)
	r.RemoveReader("Reader A")
	expect(StateNoReader)
	r.SetServiceError(fmt.Errorf("pcscd gone: %w", bridge.ErrNoService))
	expect(StateNoService)
	r.SetServiceError(nil)
	r.AddReader("Reader B")
	expect(StateNoCard)
}
