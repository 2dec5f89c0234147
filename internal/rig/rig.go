// Package rig runs tests against the real PC/SC stack without hardware:
// github.com/ebfe/scard → libpcsclite → pcscd → vpcd driver → a Go card
// served by pcsc/vpcd. Start the stack with scripts/rig.sh start.
//
// There is one virtual slot ("Virtual PCD 00 00") for the whole machine and
// go test runs packages in parallel, so Insert holds a cross-process lock (an
// flock on /tmp/cardbridge-rig.lock) for as long as the test that called it
// runs. Anything else that plugs cards into vpcd during tests, in either
// virtual reader, should hold the same lock (from a shell:
// flock /tmp/cardbridge-rig.lock cmd...), or tests watching reader changes
// will see its cards come and go.
package rig

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/pcsc/vpcd"
)

const (
	// Reader is the virtual reader that Insert puts cards in.
	Reader = "Virtual PCD 00 00"
	// Addr is where vpcd listens for that reader's card.
	Addr = vpcd.DefaultAddr

	// EnvRig set to "required" turns rig skips into failures (CI sets it).
	EnvRig = "CARDBRIDGE_RIG"

	// settle bounds every wait for the reader to show a change. pcscd
	// polls vpcd about every 400 ms, so this is generous.
	settle = 15 * time.Second
)

// Require skips the test, loudly, unless pcscd is reachable and lists the
// virtual reader. With CARDBRIDGE_RIG=required it fails the test instead.
func Require(t testing.TB) {
	t.Helper()
	if reason := check(); reason != "" {
		unavailable(t, reason)
	}
}

func check() string {
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		return fmt.Sprintf("cannot reach pcscd: %v", err)
	}
	defer pc.Close()
	states, err := pc.Readers(ctx)
	if err != nil {
		return fmt.Sprintf("cannot list readers: %v", err)
	}
	if !slices.ContainsFunc(states, func(s pcsc.ReaderState) bool { return s.Name == Reader }) {
		return fmt.Sprintf("pcscd runs but has no %q reader (is vsmartcard-vpcd installed?)", Reader)
	}
	return ""
}

func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(EnvRig) == "required" {
		t.Fatalf("RIG TEST FAILED: %s=required but the rig is not usable: %s", EnvRig, reason)
	}
	msg := fmt.Sprintf("RIG TEST SKIPPED: pcscd+vpcd not running; run scripts/rig.sh start (%s)", reason)
	// go test hides a passing package's output unless -v; stderr at least
	// reaches whoever runs a single package.
	fmt.Fprintf(os.Stderr, "\n*** %s: %s ***\n\n", t.Name(), msg)
	t.Skip(msg)
}

// Slot is the virtual reader with a test's card in it.
type Slot struct {
	t    testing.TB
	card vpcd.Card
	pc   *pcsc.Context
	in   *vpcd.Insertion // nil while removed
}

// Insert puts card into the virtual reader and returns once pcscd reports it
// present with the card's ATR. It first takes the rig lock (waiting for other
// test processes to finish with the slot). When the test ends the card is
// removed, Insert waits for the reader to report it gone, and the lock is
// released.
func Insert(t testing.TB, card vpcd.Card) *Slot {
	t.Helper()
	Require(t)
	unlock, err := lock(t)
	if err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(unlock) // runs last: cleanups are LIFO

	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		t.Fatalf("rig: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &Slot{t: t, card: card, pc: pc}
	t.Cleanup(s.Remove)

	// Someone outside the lock (a cmd/beidsim left running?) may hold the
	// slot. Wait for it to clear rather than fight over it.
	if _, err := s.waitFor(ctx, func(st pcsc.ReaderState) bool { return !st.CardPresent }); err != nil {
		t.Fatalf("rig: %s is not empty before inserting (another card connected to vpcd, e.g. a running beidsim?): %v", Reader, err)
	}
	s.Reinsert()
	return s
}

// Reader returns the name of the reader the card is in.
func (s *Slot) Reader() string { return Reader }

// Remove pulls the card and waits until pcscd reports the reader empty. It
// does nothing if the card is already out.
func (s *Slot) Remove() {
	s.t.Helper()
	if s.in == nil {
		return
	}
	s.in.Remove()
	s.in = nil
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	if _, err := s.waitFor(ctx, func(st pcsc.ReaderState) bool { return !st.CardPresent }); err != nil {
		s.t.Fatalf("rig: card still present in %s after removal: %v", Reader, err)
	}
}

// Reinsert puts the card back (after Remove) and waits until pcscd reports
// it present with its ATR. The card sees a power-on, so it resets.
func (s *Slot) Reinsert() {
	s.t.Helper()
	if s.in != nil {
		select {
		case <-s.in.Done():
			// The card pulled itself (its Transmit failed) or pcscd went
			// away: it is out already, wait for pcscd to agree.
			s.Remove()
		default:
			s.t.Fatal("rig: Reinsert while the card is inserted")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	in, err := vpcd.Insert(context.Background(), Addr, s.card)
	if err != nil {
		s.t.Fatalf("rig: insert card: %v", err)
	}
	s.in = in
	atr := s.card.ATR()
	st, err := s.waitFor(ctx, func(st pcsc.ReaderState) bool {
		return st.CardPresent && bytes.Equal(st.ATR, atr)
	})
	if err != nil {
		select {
		case <-in.Done():
			err = fmt.Errorf("%w; card connection ended: %v", err, in.Wait())
		default:
		}
		s.t.Fatalf("rig: card not reported present in %s with ATR % X: %v (last state %+v)", Reader, atr, err, st)
	}
}

// waitFor waits until the reader's state satisfies ok. It returns the
// last state seen.
func (s *Slot) waitFor(ctx context.Context, ok func(pcsc.ReaderState) bool) (pcsc.ReaderState, error) {
	return s.pc.WaitReader(ctx, Reader, ok)
}
