// Package simreaders implements bridge.Readers over simulated Belgian eID
// cards (package sim), in process, so that the bridge can be tested without
// PC/SC. Readers can be added and removed, cards inserted and pulled, a
// pinpad attached, latency added and a service outage simulated.
package simreaders

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
)

// PinpadEntry is what the user of a simulated pinpad does: it returns the
// PIN typed on the keypad, or ErrPinpadCancelled or ErrPinpadTimeout.
type PinpadEntry func(ctx context.Context) (pin []byte, err error)

// Errors a PinpadEntry returns to simulate the user.
var (
	ErrPinpadCancelled = errors.New("simreaders: PIN entry cancelled on the keypad")
	ErrPinpadTimeout   = errors.New("simreaders: PIN entry timed out on the keypad")
)

// Readers is a set of simulated readers. The zero value has no readers;
// it is safe for concurrent use.
type Readers struct {
	mu      sync.Mutex
	slots   []*slot
	changed chan struct{} // closed and replaced on every change
	err     error         // set by SetServiceError
	latency time.Duration
	resend  time.Duration    // see SetResendDelay
	hook    func(cmd []byte) // see SetCommandHook
	opens   int
	// Counters of security-relevant commands, for tests that must show
	// that something was NOT sent.
	pinVerifies int
	signatures  int
	watchers    int // Watch calls in progress
	maxWatchers int // most Watch calls ever in progress at once
	lists       int // List calls
	held        bool
	noMarks     bool // HideInsertions
}

type slot struct {
	name   string
	card   *sim.Card
	pinpad PinpadEntry
	// pinpadLang is the wLangId of the last PIN_VERIFY_STRUCTURE the
	// keypad got, in which a real reader would show its prompts.
	pinpadLang uint16
	busy       bool // a session is open: the exclusive transaction
	// events counts insertions and removals, as PC/SC's event count does.
	events int
}

// New returns Readers with the named, empty readers.
func New(names ...string) *Readers {
	r := &Readers{}
	for _, n := range names {
		r.slots = append(r.slots, &slot{name: n})
	}
	return r
}

// notify wakes the watchers; r.mu must be held.
func (r *Readers) notify() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

func (r *Readers) find(name string) *slot {
	for _, s := range r.slots {
		if s.name == name {
			return s
		}
	}
	return nil
}

// AddReader plugs in an empty reader.
func (r *Readers) AddReader(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.find(name) == nil {
		r.slots = append(r.slots, &slot{name: name})
		r.notify()
	}
}

// RemoveReader unplugs a reader, pulling its card.
func (r *Readers) RemoveReader(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.slots, func(s *slot) bool { return s.name == name })
	if i < 0 {
		return
	}
	if c := r.slots[i].card; c != nil {
		c.Pull()
	}
	r.slots = slices.Delete(r.slots, i, i+1)
	r.notify()
}

// Insert puts card in the reader, replacing any card there.
func (r *Readers) Insert(reader string, card *sim.Card) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.find(reader)
	if s == nil {
		return fmt.Errorf("simreaders: no reader %q", reader)
	}
	if s.card != nil && s.card != card {
		s.card.Pull()
	}
	if s.card != nil {
		s.events++ // the removal of the card that was there
	}
	card.Reinsert()
	s.card = card
	s.events++
	r.notify()
	return nil
}

// Remove pulls the card out of the reader; open sessions fail with
// bridge.ErrCardRemoved from then on.
func (r *Readers) Remove(reader string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.find(reader); s != nil && s.card != nil {
		s.card.Pull()
		s.card = nil
		s.events++
		r.notify()
	}
}

// SetPinpad gives the reader a keypad (nil removes it).
func (r *Readers) SetPinpad(reader string, entry PinpadEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.find(reader); s != nil {
		s.pinpad = entry
		r.notify()
	}
}

// PinpadLanguage returns the language identifier (wLangId) of the last
// PIN entry the reader's keypad was asked for, 0 before any.
func (r *Readers) PinpadLanguage(reader string) uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.find(reader); s != nil {
		return s.pinpadLang
	}
	return 0
}

// SetResendDelay sets the pause the readers' sessions ask the driver to
// make before an exact-length repeat after 6Cxx (beid.ResendPacer). The
// default, 0, is the simulator's: it answers at once. A card made with
// sim.Options.MuteOnEarlyResend needs more.
func (r *Readers) SetResendDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resend = d
}

// SetLatency delays every command by d, as a slow reader would.
func (r *Readers) SetLatency(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency = d
}

// SetCommandHook makes every command call h before it reaches the card
// (nil removes it). h runs on the exchange's goroutine and is not
// interrupted by the exchange's context: a hook that blocks plays a reader
// whose exchange hangs, as PC/SC's SCardTransmit does, which no context
// can stop. A command that reaches a pulled card still calls h.
func (r *Readers) SetCommandHook(h func(cmd []byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// SetServiceError makes every call fail with err (nil restores service),
// as when the smart card service stops. Use an error wrapping
// bridge.ErrNoService.
func (r *Readers) SetServiceError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	r.notify()
}

// PINVerifies returns how many VERIFY commands carrying a PIN were sent to
// any card (a VERIFY without data only asks for the tries left).
func (r *Readers) PINVerifies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pinVerifies
}

// Signatures returns how many PSO: COMPUTE DIGITAL SIGNATURE commands were
// sent to any card.
func (r *Readers) Signatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.signatures
}

// Opens returns how many sessions were opened so far.
func (r *Readers) Opens() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opens
}

func (r *Readers) listLocked() []bridge.ReaderInfo {
	out := make([]bridge.ReaderInfo, 0, len(r.slots))
	for _, s := range r.slots {
		info := bridge.ReaderInfo{Name: s.name, Pinpad: s.pinpad != nil}
		if s.card != nil {
			info.CardPresent = true
			info.ATR = bytes.Clone(s.card.ATR())
		}
		out = append(out, info)
	}
	return out
}

// Lists returns how many List calls were made.
func (r *Readers) Lists() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lists
}

// HoldEvents, while hold is true, keeps Watch from reporting changes, as
// when the smart card service has not yet told its watchers: List sees
// the readers as they are, Watch as they were. Releasing reports what
// changed meanwhile.
func (r *Readers) HoldEvents(hold bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held = hold
	r.notify()
}

// List implements bridge.Readers.
func (r *Readers) List(ctx context.Context) ([]bridge.ReaderInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists++
	if r.err != nil {
		return nil, r.err
	}
	return r.listLocked(), nil
}

// Watchers returns how many Watch calls are in progress.
func (r *Readers) Watchers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watchers
}

// MaxWatchers returns the most Watch calls that were ever in progress at
// the same time.
func (r *Readers) MaxWatchers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxWatchers
}

// Watch implements bridge.Readers.
func (r *Readers) Watch(ctx context.Context, known []bridge.ReaderInfo) ([]bridge.ReaderInfo, error) {
	r.mu.Lock()
	r.watchers++
	r.maxWatchers = max(r.maxWatchers, r.watchers)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.watchers--
		r.mu.Unlock()
	}()
	for {
		r.mu.Lock()
		if r.err != nil {
			err := r.err
			r.mu.Unlock()
			return nil, err
		}
		list := r.listLocked()
		if !r.held && !bridge.EqualReaders(list, known) {
			r.mu.Unlock()
			return list, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Open implements bridge.Readers. Like a PC/SC exclusive transaction, a
// second Open of the same reader fails with bridge.ErrReaderBusy while a
// session is open.
func (r *Readers) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	s := r.find(reader)
	switch {
	case s == nil:
		return nil, fmt.Errorf("%w: %q", bridge.ErrNoReader, reader)
	case s.card == nil:
		return nil, bridge.ErrNoCard
	case s.busy:
		return nil, bridge.ErrReaderBusy
	}
	s.busy = true
	r.opens++
	sess := &session{r: r, slot: s, card: s.card, pinpad: s.pinpad, latency: r.latency, resend: r.resend, events: s.events}
	if r.noMarks {
		return unmarkedSession{sess, sess}, nil
	}
	return sess, nil
}

// HideInsertions, while hide is true, opens sessions that cannot tell one
// insertion from another, as on a PC/SC service without event counts.
func (r *Readers) HideInsertions(hide bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noMarks = hide
}

// unmarkedSession is a session without its Insertion method.
type unmarkedSession struct {
	bridge.ATRSession
	pacer beid.ResendPacer
}

func (u unmarkedSession) ResendDelay() time.Duration { return u.pacer.ResendDelay() }

var (
	_ bridge.ATRSession       = (*session)(nil)
	_ bridge.InsertionSession = (*session)(nil)
	_ bridge.ResettingSession = (*session)(nil)
)

// Insertion implements bridge.InsertionSession.
func (s *session) Insertion() (int, bool) { return s.events, true }

// session is an open card session.
type session struct {
	r       *Readers
	slot    *slot
	card    *sim.Card
	pinpad  PinpadEntry
	latency time.Duration
	resend  time.Duration
	events  int // the slot's event count when opened

	mu     sync.Mutex
	closed bool
}

var errClosed = errors.New("simreaders: session closed")

// ResendDelay makes the session a beid.ResendPacer (see
// Readers.SetResendDelay).
func (s *session) ResendDelay() time.Duration { return s.resend }

// Transmit implements apdu.Transmitter.
func (s *session) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	s.r.mu.Lock()
	hook := s.r.hook
	s.r.mu.Unlock()
	if hook != nil {
		hook(cmd)
	}
	if len(cmd) >= 4 {
		s.r.mu.Lock()
		switch {
		case cmd[1] == 0x20 && len(cmd) > 5:
			s.r.pinVerifies++
		case cmd[1] == 0x2A && cmd[2] == 0x9E && cmd[3] == 0x9A:
			s.r.signatures++
		}
		s.r.mu.Unlock()
	}
	resp, err := s.card.Transmit(ctx, cmd)
	if errors.Is(err, sim.ErrPulled) {
		return nil, fmt.Errorf("%w: %w", bridge.ErrCardRemoved, err)
	}
	return resp, err
}

// ATR implements bridge.ATRSession.
func (s *session) ATR() []byte { return bytes.Clone(s.card.ATR()) }

// Pinpad implements bridge.CardSession.
func (s *session) Pinpad() beid.Pinpad {
	if s.pinpad == nil {
		return nil
	}
	return pinpad{s}
}

// Close implements bridge.CardSession.
func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.r.mu.Lock()
	s.slot.busy = false
	s.r.mu.Unlock()
	return nil
}

// CloseReset implements bridge.ResettingSession: the card is reset, then
// the session closed.
func (s *session) CloseReset() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		s.card.Reset()
	}
	return s.Close()
}

// pinpad plays a CCID pinpad reader: it takes the PIN from the entry
// function and sends the VERIFY itself, answering 6400 or 6401 as a reader
// does when the user lets the entry time out or cancels it.
type pinpad struct{ s *session }

func (p pinpad) VerifyPINDirect(ctx context.Context, verifyStructure []byte) ([]byte, error) {
	// PIN_VERIFY_STRUCTURE (PC/SC part 10): wPINMaxExtraDigit at 5 (max,
	// min), wLangId at 9, both little endian. A reader refuses a PIN
	// outside the limits (6403) and prompts in the language.
	if len(verifyStructure) < 11 {
		return []byte{0x6B, 0x80}, nil
	}
	maxLen, minLen := int(verifyStructure[5]), int(verifyStructure[6])
	p.s.r.mu.Lock()
	p.s.slot.pinpadLang = uint16(verifyStructure[9]) | uint16(verifyStructure[10])<<8
	p.s.r.mu.Unlock()
	pin, err := p.s.pinpad(ctx)
	defer clear(pin)
	switch {
	case errors.Is(err, ErrPinpadTimeout):
		return []byte{0x64, 0x00}, nil
	case errors.Is(err, ErrPinpadCancelled):
		return []byte{0x64, 0x01}, nil
	case err != nil:
		return nil, err
	}
	if len(pin) < minLen || len(pin) > maxLen {
		return []byte{0x64, 0x03}, nil
	}
	// VERIFY with a GlobalPlatform format 2 PIN block, as the reader
	// builds it from PIN_VERIFY_STRUCTURE.
	cmd := []byte{0x00, 0x20, 0x00, 0x01, 0x08, 0x20 | byte(len(pin)), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	defer clear(cmd)
	for i, d := range pin {
		if d < '0' || d > '9' {
			return []byte{0x64, 0x03}, nil
		}
		b := &cmd[6+i/2]
		if i%2 == 0 {
			*b = (*b & 0x0F) | (d-'0')<<4
		} else {
			*b = (*b & 0xF0) | (d - '0')
		}
	}
	return p.s.Transmit(ctx, cmd)
}
