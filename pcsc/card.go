package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// Card is a shared-mode connection to the card in one reader, using T=0 or
// T=1, whichever the card and reader agree on.
//
// Its methods may be called from several goroutines; they run one at a time.
// Close may be called at any moment, also to abort a Begin that is waiting.
type Card struct {
	reader string

	// busy serialises calls that use h. It is a channel, not a mutex, so
	// that waiting for it can give up when a context ends.
	busy chan struct{}

	// Guarded by busy.
	sc       *scard.Context // the card's own PC/SC context
	h        *scard.Card
	events   int             // reader event count when we connected
	features map[byte]uint32 // nil until fetched

	// atr has a lock of its own so that ATR never waits behind a blocked
	// call.
	atrMu sync.Mutex
	atr   []byte

	closeOnce sync.Once
	closed    chan struct{}
}

// Connect connects to the card in reader, in shared mode. It fails with an
// error matching ErrNoCard when the reader is empty, ErrReaderUnavailable
// when there is no such reader, and ErrSharingViolation when another
// application holds the card exclusively. Connecting does not wait for
// anything but the card's power-up, so ctx is only checked before.
func (c *Context) Connect(ctx context.Context, reader string) (*Card, error) {
	sc, err := c.ownSCard(ctx, opConnect)
	if err != nil {
		return nil, err
	}
	h, err := sc.Connect(reader, scard.ShareShared, scard.ProtocolT0|scard.ProtocolT1)
	if err != nil {
		_ = sc.Release()
		return nil, wrap(opConnect, err)
	}
	card := &Card{
		reader: reader,
		busy:   make(chan struct{}, 1),
		sc:     sc,
		h:      h,
		closed: make(chan struct{}),
	}
	if err := card.refreshStatus(opConnect); err != nil {
		card.Close()
		return nil, err
	}
	return card, nil
}

// refreshStatus reads the ATR and the reader's event count. Needs busy (or
// exclusive ownership, as in Connect).
func (c *Card) refreshStatus(op string) error {
	st, err := c.h.Status()
	if err != nil {
		return wrap(op, err)
	}
	c.atrMu.Lock()
	c.atr = bytes.Clone(st.Atr)
	c.events = int(uint32(st.State) >> 16)
	c.atrMu.Unlock()
	return nil
}

// lock takes busy, giving up when ctx ends or the card is closed.
func (c *Card) lock(ctx context.Context, op string) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
		return contextError(op, ctx)
	case <-c.closed:
		return ErrClosed
	}
	if c.h == nil {
		c.unlock()
		return ErrClosed
	}
	return nil
}

func (c *Card) unlock() { <-c.busy }

// Reader returns the name of the reader the card is in.
func (c *Card) Reader() string { return c.reader }

// EventCount returns the reader's count of card insertions and removals
// (modulo 2^16) as of Connect or the last Reconnect, read once the handle
// held the card: a card swapped later gives another count. pcsc-lite and
// Windows keep it in the upper half of SCardStatus's state; a service that
// does not count reports 0.
func (c *Card) EventCount() int {
	c.atrMu.Lock()
	defer c.atrMu.Unlock()
	return c.events & 0xFFFF
}

// ATR returns the card's Answer To Reset as of Connect or the last Reconnect.
func (c *Card) ATR() []byte {
	c.atrMu.Lock()
	defer c.atrMu.Unlock()
	return bytes.Clone(c.atr)
}

// Transmit sends a command APDU and returns the response APDU, status word
// included. It implements apdu.Transmitter.
//
// An exchange cannot be interrupted once sent, so ctx is checked before
// sending and again when the answer is back; if ctx ended meanwhile the
// answer is dropped and the error matches ctx.Err(). pcsc-lite holds a
// Transmit back while another application's transaction is open; Begin a
// transaction first to wait for that with a context.
//
// When the card is pulled during the exchange the error matches
// ErrCardRemoved. Detecting that can take up to a second after the failure,
// the time some reader drivers need to notice.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := contextError(opTransmit, ctx); err != nil {
		return nil, err
	}
	if err := c.lock(ctx, opTransmit); err != nil {
		return nil, err
	}
	defer c.unlock()
	rsp, err := c.h.Transmit(cmd)
	if err != nil {
		return nil, c.classify(ctx, opTransmit, err)
	}
	if len(rsp) < 2 {
		// Every response APDU ends in a status word. vpcd answers this
		// way when the card vanished mid-command.
		return nil, c.checkRemoved(ctx, fmt.Errorf("pcsc: transmit: %d-byte response has no status word", len(rsp)))
	}
	if err := contextError(opTransmit, ctx); err != nil {
		return nil, err
	}
	return rsp, nil
}

// classify wraps a failed exchange or control command. A card pulled in the
// middle of an exchange is not reported as SCARD_W_REMOVED_CARD: pcsc-lite
// says SCARD_E_NOT_TRANSACTED or the like, and vpcd even returns an empty
// answer. For those failures, if the reader then reports the card gone (or a
// different one), the error is made to match ErrCardRemoved too.
func (c *Card) classify(ctx context.Context, op string, err error) error {
	werr := wrap(op, err)
	var code scard.Error
	if !errors.As(err, &code) {
		return werr
	}
	switch code {
	case scard.ErrNotTransacted, scard.ErrUnresponsiveCard,
		scard.ErrUnpoweredCard, scard.ErrUnknownError:
		return c.checkRemoved(ctx, werr)
	}
	return werr
}

// checkRemoved waits, inside the service (no polling), for the reader to
// leave the state we connected in, and adds ErrCardRemoved to err if it
// does. vpcd notices a vanished card within ~400 ms and USB readers report
// removal at once; a card that is still there keeps us waiting a second,
// which only happens on this error path.
func (c *Card) checkRemoved(ctx context.Context, err error) error {
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	if wait <= 0 {
		return err
	}
	rs := []scard.ReaderState{{
		Reader:       c.reader,
		CurrentState: scard.StatePresent | scard.StateFlag(uint32(c.events&0xFFFF)<<16),
	}}
	serr := c.sc.GetStatusChange(rs, wait)
	if errors.Is(serr, scard.ErrUnknownReader) {
		return fmt.Errorf("%w: %w", ErrReaderUnavailable, err)
	}
	if serr != nil {
		// pcscd failing the exchange as it shuts down, then being gone
		// when asked about the reader: the service is the cause.
		if serviceGone(wrap(opWait, serr)) {
			return fmt.Errorf("%w: %w", ErrNoService, err)
		}
		return err
	}
	st := rs[0].EventState
	if st&scard.StatePresent == 0 || int(uint32(st)>>16) != c.events&0xFFFF {
		return fmt.Errorf("%w: %w", ErrCardRemoved, err)
	}
	return err
}

// Begin starts a transaction: until End, other applications cannot talk to
// the card (they can still connect). If another application has a
// transaction open, Begin waits for it to end, and gives up when ctx ends; a
// transaction granted after that is ended at once.
func (c *Card) Begin(ctx context.Context) error {
	if err := contextError(opBegin, ctx); err != nil {
		return err
	}
	if err := c.lock(ctx, opBegin); err != nil {
		return err
	}
	h := c.h
	done := make(chan error, 1)
	go func() { done <- h.BeginTransaction() }()
	select {
	case err := <-done:
		c.unlock()
		return wrap(opBegin, err)
	case <-ctx.Done():
		// pcsc-lite's BeginTransaction cannot be cancelled. Let it finish
		// in the background, still holding busy so nothing else runs on
		// the handle meanwhile, and give the transaction back if granted.
		go func() {
			if err := <-done; err == nil {
				_ = h.EndTransaction(scard.LeaveCard)
			}
			c.unlock()
		}()
		return contextError(opBegin, ctx)
	}
}

// End ends the transaction started by Begin, leaving the card as it is
// (powered, applet and security state kept). If a Begin that gave up is
// still pending in the background, End waits for it to settle first.
func (c *Card) End() error {
	if err := c.lock(context.Background(), opEnd); err != nil {
		return err
	}
	defer c.unlock()
	return wrap(opEnd, c.h.EndTransaction(scard.LeaveCard))
}

// Reconnect re-establishes the connection after ErrCardReset (another
// application reset the card), without resetting it again, and refreshes the
// ATR. The card's state (selected file, verified PIN) was lost in the reset.
// After ErrCardRemoved, Close the Card and Connect again instead.
func (c *Card) Reconnect(ctx context.Context) error {
	if err := contextError(opReconnect, ctx); err != nil {
		return err
	}
	if err := c.lock(ctx, opReconnect); err != nil {
		return err
	}
	defer c.unlock()
	if err := c.h.Reconnect(scard.ShareShared, scard.ProtocolT0|scard.ProtocolT1, scard.LeaveCard); err != nil {
		return wrap(opReconnect, err)
	}
	return c.refreshStatus(opReconnect)
}

// Close disconnects from the card, leaving it as it is, and releases the
// Card's PC/SC context. It is safe to call more than once.
func (c *Card) Close() error { return c.close(scard.LeaveCard) }

// CloseReset is Close, resetting the card as it disconnects: its security
// state (a verified PIN) is lost.
func (c *Card) CloseReset() error { return c.close(scard.ResetCard) }

func (c *Card) close(disposition scard.Disposition) error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		// Disconnect first, without waiting for busy: an abandoned Begin
		// may be holding busy while pcsc-lite waits for another
		// application, and a disconnected handle makes it give up.
		h := c.h
		if h != nil {
			err = h.Disconnect(disposition)
		}
		c.busy <- struct{}{}
		c.h = nil
		_ = c.sc.Release()
		c.unlock()
	})
	if err == nil {
		return nil
	}
	err = wrap(opDisconnect, err)
	// A card that is gone or a service that stopped leaves nothing to
	// disconnect from: that is not a failure to close.
	if serviceGone(err) || errors.Is(err, ErrCardRemoved) || errors.Is(err, ErrCardReset) ||
		errors.Is(err, ErrReaderUnavailable) || errors.Is(err, ErrNoCard) {
		return nil
	}
	return err
}
