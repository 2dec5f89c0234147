package pcscreaders

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/internal/rig"
	"github.com/cardbridge/cardbridge/pcsc"
)

func TestMapError(t *testing.T) {
	for _, tc := range []struct {
		in   error
		want error
	}{
		{pcsc.ErrNoService, bridge.ErrNoService},
		{fmt.Errorf("list: %w", pcsc.ErrNoService), bridge.ErrNoService},
		{pcsc.ErrReaderUnavailable, bridge.ErrNoReader},
		{pcsc.ErrNoReaders, bridge.ErrNoReader},
		{pcsc.ErrNoCard, bridge.ErrNoCard},
		{pcsc.ErrCardRemoved, bridge.ErrCardRemoved},
		{pcsc.ErrCardReset, bridge.ErrCardRemoved},
		{pcsc.ErrSharingViolation, bridge.ErrReaderBusy},
		{context.Canceled, context.Canceled},
	} {
		got := mapError(tc.in)
		if !errors.Is(got, tc.want) || !errors.Is(got, tc.in) {
			t.Errorf("mapError(%v) = %v, want it to match %v and keep the cause", tc.in, got, tc.want)
		}
	}
	if mapError(nil) != nil {
		t.Error("mapError(nil) != nil")
	}
	other := errors.New("x")
	if mapError(other) != other {
		t.Error("unknown errors must pass unchanged")
	}
}

// TestRig reads a simulated card through pcscd and vpcd and watches it
// leave. It skips (loudly) without the rig.
func TestRig(t *testing.T) {
	card, slot, r, ctx := rigSetup(t, sim.ProfileECC)

	list, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, info := range list {
		if info.Name == slot.Reader() {
			found = info.CardPresent && len(info.ATR) > 0
		}
	}
	if !found {
		t.Fatalf("List = %+v, want %s with a card", list, slot.Reader())
	}

	s, err := r.Open(ctx, slot.Reader())
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := beid.New(s).Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id.NationalNumber != card.Person().Identity.NationalNumber {
		t.Errorf("identity read over PC/SC differs")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	if _, err := r.Open(ctx, "No Such Reader 00 00"); !errors.Is(err, bridge.ErrNoReader) {
		t.Errorf("Open of a missing reader: %v", err)
	}

	done := make(chan []bridge.ReaderInfo, 1)
	go func() {
		l, err := r.Watch(ctx, list)
		if err != nil {
			t.Errorf("Watch: %v", err)
		}
		done <- l
	}()
	slot.Remove()
	select {
	case l := <-done:
		for _, info := range l {
			if info.Name == slot.Reader() && info.CardPresent {
				t.Errorf("after removal Watch = %+v", l)
			}
		}
	case <-ctx.Done():
		t.Fatal("Watch did not see the removal")
	}
	if _, err := r.Open(ctx, slot.Reader()); !errors.Is(err, bridge.ErrNoCard) {
		t.Errorf("Open of the empty reader: %v", err)
	}
}

// TestInsertionMark: a session tells which insertion of the card it holds,
// the same one for two sessions between which nothing happened, another
// after the card left and came back.
func TestInsertionMark(t *testing.T) {
	_, slot, r, ctx := rigSetup(t, sim.ProfileRSAECRRN)
	mark := func() int {
		t.Helper()
		s, err := r.Open(ctx, slot.Reader())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		m, ok := s.(bridge.InsertionSession).Insertion()
		if !ok {
			t.Fatal("pcsc-lite counts insertions, but the session has no mark")
		}
		return m
	}
	first := mark()
	if again := mark(); again != first {
		t.Errorf("mark %d, then %d with the card left in place", first, again)
	}
	slot.Remove()
	slot.Reinsert()
	if after := mark(); after == first {
		t.Errorf("mark %d unchanged after the card was removed and put back", after)
	}
}

// rigSetup inserts a fresh simulated card of profile p in the rig's reader
// and returns it with Readers and a context, all ended with the test. It
// skips (loudly) without the rig.
func rigSetup(t *testing.T, p sim.Profile) (*sim.Card, *rig.Slot, *Readers, context.Context) {
	t.Helper()
	rig.Require(t)
	card, err := sim.New(sim.Options{Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	slot := rig.Insert(t, card)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	r := New()
	t.Cleanup(func() { r.Close() })
	return card, slot, r, ctx
}
