// Package pcscreaders implements bridge.Readers over the PC/SC service
// (package pcsc): the readers the daemon really uses.
//
// The PC/SC context is established on first use, so the daemon starts while
// the smart card service is down; pcsc.Context re-establishes itself after
// the service restarts, and until then every call fails with an error
// matching bridge.ErrNoService.
package pcscreaders

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/pcsc"
)

// Readers is the PC/SC reader layer. Create it with New; it is safe for
// concurrent use.
type Readers struct {
	mu     sync.Mutex
	pc     *pcsc.Context // nil until established
	closed bool
	// pinpad remembers which readers have a keypad. PC/SC tells only
	// through a connected card, so a reader's keypad shows in List once a
	// card in it was opened.
	pinpad map[string]bool
}

// New returns Readers; nothing is connected until the first call.
func New() *Readers {
	return &Readers{pinpad: make(map[string]bool)}
}

// Close releases the PC/SC context.
func (r *Readers) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.pc == nil {
		return nil
	}
	err := r.pc.Close()
	r.pc = nil
	return err
}

func (r *Readers) context(ctx context.Context) (*pcsc.Context, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, mapError(pcsc.ErrClosed)
	}
	if r.pc == nil {
		pc, err := pcsc.Establish(ctx)
		if err != nil {
			return nil, mapError(err)
		}
		r.pc = pc
	}
	return r.pc, nil
}

func (r *Readers) infos(states []pcsc.ReaderState) []bridge.ReaderInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]bridge.ReaderInfo, 0, len(states))
	for _, s := range states {
		// A mute card (inserted upside down, or dead) cannot be used:
		// report the reader as empty rather than offering it.
		present := s.CardPresent && !s.Mute && !s.Unavailable
		info := bridge.ReaderInfo{Name: s.Name, CardPresent: present, Pinpad: r.pinpad[s.Name]}
		if present {
			info.ATR = bytes.Clone(s.ATR)
		}
		out = append(out, info)
	}
	return out
}

// List implements bridge.Readers.
func (r *Readers) List(ctx context.Context) ([]bridge.ReaderInfo, error) {
	pc, err := r.context(ctx)
	if err != nil {
		return nil, err
	}
	states, err := pc.Readers(ctx)
	if err != nil {
		return nil, mapError(err)
	}
	return r.infos(states), nil
}

// Watch implements bridge.Readers. It waits inside the PC/SC service, so an
// idle wait costs nothing; state changes that do not show in ReaderInfo
// (another application connecting, say) are waited through.
func (r *Readers) Watch(ctx context.Context, known []bridge.ReaderInfo) ([]bridge.ReaderInfo, error) {
	pc, err := r.context(ctx)
	if err != nil {
		return nil, err
	}
	states, err := pc.Readers(ctx)
	for {
		if err != nil {
			return nil, mapError(err)
		}
		if infos := r.infos(states); !bridge.EqualReaders(infos, known) {
			return infos, nil
		}
		states, err = pc.WaitChange(ctx, states)
	}
}

// Open implements bridge.Readers: it connects to the card in shared mode and
// begins a PC/SC transaction, which keeps other applications off the card
// until Close.
func (r *Readers) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	pc, err := r.context(ctx)
	if err != nil {
		return nil, err
	}
	card, err := pc.Connect(ctx, reader)
	if err != nil {
		return nil, mapError(err)
	}
	if err := card.Begin(ctx); err != nil {
		card.Close()
		return nil, mapError(err)
	}
	s := &session{card: card, pinpad: card.HasPinpad(ctx)}
	// The reader's event count, read by Connect once the handle held the
	// card: a card swapped since would have invalidated the handle. A
	// count of 0 with a card present means the service does not count
	// (pcsc-lite and Windows do; the first insertion makes it 1).
	if n := card.EventCount(); n != 0 {
		s.mark, s.marked = n, true
	}
	r.mu.Lock()
	r.pinpad[reader] = s.pinpad
	r.mu.Unlock()
	return s, nil
}

var _ bridge.ATRSession = (*session)(nil)

// session is an open card under a transaction.
type session struct {
	card   *pcsc.Card
	pinpad bool
	mark   int // the reader's event count once connected
	marked bool
}

var (
	_ bridge.InsertionSession = (*session)(nil)
	_ bridge.ResettingSession = (*session)(nil)
)

// Insertion implements bridge.InsertionSession with PC/SC's event count.
func (s *session) Insertion() (int, bool) { return s.mark, s.marked }

func (s *session) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := s.card.Transmit(ctx, cmd)
	if err != nil {
		return nil, mapError(err)
	}
	return resp, nil
}

// ATR implements bridge.ATRSession: the ATR the card gave when connected.
func (s *session) ATR() []byte { return s.card.ATR() }

func (s *session) Pinpad() beid.Pinpad {
	if !s.pinpad {
		return nil
	}
	return pinpad{s.card}
}

func (s *session) Close() error {
	// End may fail when the card is gone; the disconnect still has to
	// happen, and its error is the one that matters.
	_ = s.card.End()
	return mapError(s.card.Close())
}

// CloseReset implements bridge.ResettingSession.
func (s *session) CloseReset() error {
	_ = s.card.End()
	return mapError(s.card.CloseReset())
}

// pinpad maps the transport errors of a keypad verification.
type pinpad struct{ card *pcsc.Card }

// PinpadReader makes the pinpad a beid.PinpadReader: the driver adapts
// the PIN entry to some readers.
func (p pinpad) PinpadReader(ctx context.Context) (string, uint16) {
	return p.card.Reader(), p.card.FirmwareVersion(ctx)
}

func (p pinpad) VerifyPINDirect(ctx context.Context, verifyStructure []byte) ([]byte, error) {
	resp, err := p.card.VerifyPINDirect(ctx, verifyStructure)
	if err != nil {
		return nil, mapError(err)
	}
	return resp, nil
}

// mapError makes a pcsc error match the bridge error that tells the page
// what happened, keeping the pcsc error in the chain for logs.
func mapError(err error) error {
	var target error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, pcsc.ErrNoService):
		target = bridge.ErrNoService
	case errors.Is(err, pcsc.ErrReaderUnavailable), errors.Is(err, pcsc.ErrNoReaders):
		target = bridge.ErrNoReader
	case errors.Is(err, pcsc.ErrNoCard):
		target = bridge.ErrNoCard
	case errors.Is(err, pcsc.ErrCardRemoved), errors.Is(err, pcsc.ErrCardReset):
		// A reset by another application loses the card state we
		// relied on (selected file, PIN); to the page it is as if the
		// card had been taken out and put back.
		target = bridge.ErrCardRemoved
	case errors.Is(err, pcsc.ErrSharingViolation):
		target = bridge.ErrReaderBusy
	default:
		return err
	}
	return fmt.Errorf("%w: %w", target, err)
}
