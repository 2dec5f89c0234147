package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// pnpReader is the pseudo-reader whose state changes when a reader is added
// or removed.
const pnpReader = `\\?PnP?\Notification`

// Context is a connection to the PC/SC service. Its methods are safe for
// concurrent use.
type Context struct {
	mu     sync.Mutex
	sc     *scard.Context // nil while the service is gone; see get
	closed bool
	done   chan struct{} // closed by Close, to wake WaitChange calls
}

// ReaderState is a snapshot of one reader.
type ReaderState struct {
	Name        string
	CardPresent bool
	ATR         []byte // nil when no card is present
	InUse       bool   // some application (maybe this one) is connected to the card
	Exclusive   bool   // an application holds the card exclusively
	Mute        bool   // a card is present but does not answer
	Unavailable bool   // the service cannot tell the reader's state
	// EventCount counts card insertions and removals in this reader, modulo
	// 2^16 (pcsc-lite and Windows keep it in the upper half of the state
	// word). If it changed between two snapshots that both show a card, the
	// card was swapped in between.
	EventCount int
}

// Establish connects to the PC/SC service. It fails with an error matching
// ErrNoService when the service is not running.
func Establish(ctx context.Context) (*Context, error) {
	if err := contextError(opEstablish, ctx); err != nil {
		return nil, err
	}
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, wrap(opEstablish, err)
	}
	return &Context{sc: sc, done: make(chan struct{})}, nil
}

// ownSCard establishes a PC/SC context for one connection or wait of its
// own, since pcsc-lite contexts are not safe for concurrent calls and a
// blocked wait must not hold up anyone else. op names the caller in errors.
func (c *Context) ownSCard(ctx context.Context, op string) (*scard.Context, error) {
	if err := contextError(op, ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	sc, err := scard.EstablishContext()
	if err != nil {
		return nil, wrap(opEstablish, err)
	}
	return sc, nil
}

// Close releases the Context. WaitChange calls in progress return ErrClosed.
// Cards connected through the Context are independent of it and stay open.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	close(c.done)
	if c.sc == nil {
		return nil
	}
	err := c.sc.Release()
	c.sc = nil
	if err != nil && !serviceGone(wrap(opEstablish, err)) {
		return wrap("release context", err)
	}
	return nil
}

// use runs f with the Context's own PC/SC context, establishing a new one if
// the service went away since the last call. A context established before a
// service restart only fails once it is used, so if f finds the service gone
// with an old context, it is retried once with a fresh one: the first call
// after a restart already succeeds.
func (c *Context) use(f func(sc *scard.Context) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for fresh := false; ; fresh = true {
		if c.sc == nil {
			sc, err := scard.EstablishContext()
			if err != nil {
				return wrap(opEstablish, err)
			}
			c.sc, fresh = sc, true
		}
		err := f(c.sc)
		if !serviceGone(err) {
			return err
		}
		_ = c.sc.Release()
		c.sc = nil
		if fresh {
			return err
		}
	}
}

// Readers returns the state of every reader. With no reader connected it
// returns an empty list, not an error.
func (c *Context) Readers(ctx context.Context) ([]ReaderState, error) {
	if err := contextError(opList, ctx); err != nil {
		return nil, err
	}
	var states []ReaderState
	err := c.use(func(sc *scard.Context) error {
		var err error
		states, err = snapshot(sc)
		return err
	})
	if err != nil {
		return nil, err
	}
	return states, nil
}

// WaitChange blocks until the readers differ from known: a reader appeared or
// disappeared, or a reader's state (card presence, ATR, use, mute, event
// count) changed. It then returns the new state of every reader. Pass the
// result of Readers or of the previous WaitChange as known; with a nil known
// it returns at once if any reader exists.
//
// The wait happens inside the PC/SC service (SCardGetStatusChange with an
// infinite timeout, watching the "\\?PnP?\Notification" pseudo-reader for
// reader arrivals) on a PC/SC context of its own, so it costs nothing while
// nothing happens. When ctx ends, the wait is cancelled and WaitChange returns
// an error matching ErrCancelled and context.Canceled (or ErrTimeout and
// context.DeadlineExceeded). Closing the Context makes it return ErrClosed.
//
// WaitChange cannot wait for the service itself: without it, it fails at once
// with ErrNoService, and if the service stops during the wait it returns
// ErrNoService then. Callers retry after a delay of their choosing.
func (c *Context) WaitChange(ctx context.Context, known []ReaderState) ([]ReaderState, error) {
	sc, err := c.ownSCard(ctx, opWait)
	if err != nil {
		return nil, err
	}
	defer sc.Release()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-stop:
			return
		case <-ctx.Done():
		case <-c.done:
		}
		// SCardCancel only interrupts a wait that is already blocked in the
		// service; if it lands just before, it does nothing. So keep
		// cancelling until the wait has returned. This runs only after
		// cancellation, never while waiting normally.
		for d := time.Millisecond; ; d = min(2*d, 100*time.Millisecond) {
			_ = sc.Cancel()
			t := time.NewTimer(d)
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	// Runs before sc.Release: Cancel must not race with Release.
	defer func() {
		close(stop)
		wg.Wait()
	}()

	states, err := waitChange(sc, known)
	if err != nil {
		if ctxErr := contextError(opWait, ctx); ctxErr != nil {
			return nil, ctxErr
		}
		select {
		case <-c.done:
			return nil, ErrClosed
		default:
		}
		return nil, err
	}
	return states, nil
}

func waitChange(sc *scard.Context, known []ReaderState) ([]ReaderState, error) {
	var pnp scard.StateFlag
	for {
		names, err := listReaders(sc)
		if err != nil {
			return nil, err
		}
		if !sameNames(names, known) {
			// Readers came or went before we started waiting: no need to
			// wait, but we need their current state.
			return snapshot(sc)
		}
		rs := make([]scard.ReaderState, 0, len(known)+1)
		for _, k := range known {
			rs = append(rs, scard.ReaderState{Reader: k.Name, CurrentState: k.flags()})
		}
		// pcsc-lite 2.3 and Windows keep a reader-event counter in the
		// pseudo-reader's upper half; handing it back closes the window
		// between listing readers and waiting. Older pcsc-lite ignores it
		// (and only reports changes during the wait, hence the listing).
		rs = append(rs, scard.ReaderState{Reader: pnpReader, CurrentState: pnp})
		err = sc.GetStatusChange(rs, -1)
		if errors.Is(err, scard.ErrUnknownReader) {
			continue // a known reader left just now: list again
		}
		if err != nil {
			return nil, wrap(opWait, err)
		}
		pnp = rs[len(rs)-1].EventState &^ scard.StateChanged
		if rs[len(rs)-1].EventState&scard.StateChanged != 0 {
			continue // reader list changed: compare names again
		}
		now := make([]ReaderState, len(known))
		for i := range known {
			now[i] = fromScard(&rs[i])
		}
		if !slices.EqualFunc(now, known, ReaderState.equal) {
			return now, nil
		}
		// The service saw a change we do not report (for example an
		// ATR-match bit): wait again with what it told us.
		known = now
	}
}

// snapshot returns the current state of every reader.
func snapshot(sc *scard.Context) ([]ReaderState, error) {
	for {
		names, err := listReaders(sc)
		if err != nil || len(names) == 0 {
			return []ReaderState{}, err
		}
		rs := make([]scard.ReaderState, len(names))
		for i, n := range names {
			rs[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
		}
		err = sc.GetStatusChange(rs, 0)
		if errors.Is(err, scard.ErrUnknownReader) {
			continue // a reader left between listing and asking
		}
		if err != nil {
			return nil, wrap(opStatus, err)
		}
		states := make([]ReaderState, len(rs))
		for i := range rs {
			states[i] = fromScard(&rs[i])
		}
		return states, nil
	}
}

func listReaders(sc *scard.Context) ([]string, error) {
	names, err := sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(opList, err)
	}
	return names, nil
}

func sameNames(names []string, known []ReaderState) bool {
	if len(names) != len(known) {
		return false
	}
	for _, k := range known {
		if !slices.Contains(names, k.Name) {
			return false
		}
	}
	return true
}

func fromScard(rs *scard.ReaderState) ReaderState {
	f := rs.EventState
	s := ReaderState{
		Name:        rs.Reader,
		CardPresent: f&scard.StatePresent != 0,
		InUse:       f&scard.StateInuse != 0,
		Exclusive:   f&scard.StateExclusive != 0,
		Mute:        f&scard.StateMute != 0,
		Unavailable: f&(scard.StateUnavailable|scard.StateUnknown) != 0,
		EventCount:  int(uint32(f) >> 16),
	}
	if s.CardPresent && len(rs.Atr) > 0 {
		s.ATR = bytes.Clone(rs.Atr)
	}
	return s
}

// flags turns a snapshot back into the state word SCardGetStatusChange
// compares against, so that it wakes exactly when something differs.
func (s ReaderState) flags() scard.StateFlag {
	var f scard.StateFlag
	switch {
	case s.Unavailable:
		f |= scard.StateUnavailable
	case s.CardPresent:
		f |= scard.StatePresent
	default:
		f |= scard.StateEmpty
	}
	if s.InUse {
		f |= scard.StateInuse
	}
	if s.Exclusive {
		f |= scard.StateExclusive
	}
	if s.Mute {
		f |= scard.StateMute
	}
	return f | scard.StateFlag(uint32(s.EventCount&0xFFFF)<<16)
}

func (s ReaderState) equal(o ReaderState) bool {
	return s.Name == o.Name && s.CardPresent == o.CardPresent &&
		bytes.Equal(s.ATR, o.ATR) && s.InUse == o.InUse &&
		s.Exclusive == o.Exclusive && s.Mute == o.Mute &&
		s.Unavailable == o.Unavailable && s.EventCount == o.EventCount
}

// WaitReader blocks, with WaitChange, until the state of the reader called
// name satisfies ok, and returns that state. It fails with an error
// matching ErrReaderUnavailable when no reader of that name is listed (or
// it goes away), and with WaitChange's errors otherwise; with an error it
// returns the reader's last state seen, if any.
func (c *Context) WaitReader(ctx context.Context, name string, ok func(ReaderState) bool) (ReaderState, error) {
	states, err := c.Readers(ctx)
	var last ReaderState
	for {
		if err != nil {
			return last, err
		}
		i := slices.IndexFunc(states, func(st ReaderState) bool { return st.Name == name })
		if i < 0 {
			return last, fmt.Errorf("%w: no reader %q", ErrReaderUnavailable, name)
		}
		if ok(states[i]) {
			return states[i], nil
		}
		last = states[i]
		states, err = c.WaitChange(ctx, states)
	}
}
