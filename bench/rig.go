package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/internal/riglock"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/pcsc/vpcd"
)

const (
	// virtualReader is the vpcd reader the card goes in; vpcd.DefaultAddr
	// is its card side.
	virtualReader = "Virtual PCD 00 00"
	settle        = 15 * time.Second
)

// cardSlot is the simulated card in the virtual reader.
type cardSlot struct {
	card        *sim.Card
	reader      string
	profileName string
	in          *vpcd.Insertion
	release     func() // the rig lock, which keeps tests from plugging their cards in meanwhile
}

// insertCard takes the rig lock, plugs a fresh simulated card into the
// virtual reader and waits until pcscd reports it.
func insertCard(ctx context.Context, profile string) (*cardSlot, error) {
	p, err := sim.ParseProfile(profile)
	if err != nil {
		return nil, err
	}
	card, err := sim.New(sim.Options{Profile: p, PIN: "1234"})
	if err != nil {
		return nil, err
	}
	release, err := riglock.Acquire(func() {
		fmt.Fprintf(os.Stderr, "bench: waiting for %s (tests are using the virtual reader)\n", riglock.Path)
	})
	if err != nil {
		return nil, err
	}
	cs := &cardSlot{card: card, reader: virtualReader, profileName: p.String() + " (applet " + appletName(p) + ")", release: release}
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	if err := waitReader(wctx, func(st pcsc.ReaderState) bool { return !st.CardPresent }); err != nil {
		cs.close()
		return nil, fmt.Errorf("%s is not empty (a beidsim running?) or pcscd is not running (scripts/rig.sh start): %w", virtualReader, err)
	}
	in, err := vpcd.Insert(context.Background(), vpcd.DefaultAddr, card)
	if err != nil {
		cs.close()
		return nil, err
	}
	cs.in = in
	if err := waitReader(wctx, func(st pcsc.ReaderState) bool {
		return st.CardPresent && bytes.Equal(st.ATR, card.ATR())
	}); err != nil {
		cs.close()
		return nil, fmt.Errorf("card not reported present: %w", err)
	}
	return cs, nil
}

func appletName(p sim.Profile) string {
	return fmt.Sprintf("%d.%d", p.AppletVersion()>>4, p.AppletVersion()&0xF)
}

// replace pulls the card in the reader and puts card in its place,
// waiting for pcscd to see each step.
func (cs *cardSlot) replace(ctx context.Context, card vpcd.Card) error {
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	if cs.in != nil {
		cs.in.Remove()
		cs.in = nil
		if err := waitReader(wctx, func(st pcsc.ReaderState) bool { return !st.CardPresent }); err != nil {
			return err
		}
	}
	in, err := vpcd.Insert(context.Background(), vpcd.DefaultAddr, card)
	if err != nil {
		return err
	}
	cs.in = in
	return waitReader(wctx, func(st pcsc.ReaderState) bool {
		return st.CardPresent && bytes.Equal(st.ATR, card.ATR())
	})
}

// close pulls the card, waits for pcscd to see it gone and releases the
// rig lock.
func (cs *cardSlot) close() {
	if cs.in != nil {
		cs.in.Remove()
		ctx, cancel := context.WithTimeout(context.Background(), settle)
		_ = waitReader(ctx, func(st pcsc.ReaderState) bool { return !st.CardPresent })
		cancel()
	}
	cs.release()
}

// waitReader waits, with PC/SC change notification, until the virtual
// reader's state satisfies ok.
func waitReader(ctx context.Context, ok func(pcsc.ReaderState) bool) error {
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		return err
	}
	defer pc.Close()
	if _, err := pc.WaitReader(ctx, virtualReader, ok); err != nil {
		if errors.Is(err, pcsc.ErrReaderUnavailable) {
			return fmt.Errorf("pcscd has no %q reader (is vsmartcard-vpcd installed?): %w", virtualReader, err)
		}
		return err
	}
	return nil
}
