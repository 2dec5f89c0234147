package bridge

import (
	"context"
	"fmt"
	"sync"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// cardFunc is the card work of one request: it runs inside a card session,
// under the reader's lock, and returns what the method needs from the card.
type cardFunc[T any] func(ctx context.Context, sess CardSession, card *cachedCard) (T, error)

// withCard runs fn on the card in the reader, under the reader's lock and an
// exclusive card session, and returns its result.
//
// A card exchange cannot be interrupted: PC/SC's SCardTransmit (and a
// pinpad's PIN entry) returns when the card or reader answers, whatever ctx
// says. When ctx ends meanwhile, the request's watchdog (conn.run) answers
// the page at once, and this goes on until the card answers, holding the
// reader's lock and the session all along: the next request for the reader
// waits for it (or times out itself) instead of interleaving commands with
// it. It stops at its next exchange, which sees ctx done. The commands that
// spend a PIN try or use a key go through the request's cardGuard, so that
// none is sent once the page has its answer.
//
// withCard runs on the request's goroutine rather than one of its own, and
// the watchdog answers instead: so the method's state is never shared
// between the card work and the answer, every wait of a method is covered
// (listing readers, connecting, not only exchanges), and a request costs
// no hand-off to another goroutine.
func withCard[T any](ctx context.Context, rc *reqCtx, info ReaderInfo, fn cardFunc[T]) (T, error) {
	var zero T
	s := rc.core()
	unlock, err := s.lockReader(ctx, info.Name)
	if err != nil {
		return zero, err
	}
	defer unlock()
	sess, err := s.cfg.Readers.Open(ctx, info.Name)
	if err != nil {
		return zero, err
	}
	gs := &guardedSession{CardSession: sess, g: rc.guard}
	defer func() {
		if r, ok := sess.(ResettingSession); ok && gs.reset {
			_ = r.CloseReset()
			return
		}
		sess.Close()
	}()
	// The guard wraps the session and hides what else it is: the cache
	// and the driver look at sess itself.
	card := s.cards.attach(info.Name, sess)
	opts := card.driverOptions()
	if p, ok := sess.(beid.ResendPacer); ok {
		opts = append(opts, beid.WithResendDelay(p.ResendDelay()))
	}
	card.Card = beid.New(gs, opts...)
	return fn(ctx, gs, card)
}

// cardGuard orders, for one request, the commands that spend a PIN try or
// use a private key against the request's early answer: such a command is
// sent only while the request's context is live, and the watchdog that
// answers a request whose context ended does so only once no such command
// is in flight. So no PIN reaches the card, and nothing is signed, after
// the page was told TIMEOUT or CANCELLED. Checking the context before
// sending is not enough on its own: the deadline can pass between the
// check and the send.
type cardGuard struct {
	ctx context.Context // the request's: a call's own context may outlive it
	mu  sync.Mutex      // held for the whole of a sensitive exchange
}

// run sends a sensitive command with send, unless the request's context
// has ended.
func (g *cardGuard) run(send func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.ctx.Err(); err != nil {
		return fmt.Errorf("bridge: sensitive command not sent: %w", err)
	}
	return send()
}

// wait returns once no sensitive command is in flight. Called after the
// request's context ended, after which none can start.
func (g *cardGuard) wait() {
	// An empty critical section: taking the lock is the wait.
	g.mu.Lock()
	//lint:ignore SA2001 see above
	g.mu.Unlock()
}

// sensitiveINS are the instructions that present a PIN or use a private
// key: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, PERFORM
// SECURITY OPERATION and INTERNAL AUTHENTICATE. An empty VERIFY only asks
// for the tries left, but guarding it costs nothing.
var sensitiveINS = [256]bool{0x20: true, 0x24: true, 0x2C: true, 0x2A: true, 0x88: true}

// guardedSession is a card session whose sensitive commands go through a
// cardGuard, whichever driver call builds them.
type guardedSession struct {
	CardSession
	g     *cardGuard
	reset bool // reset the card when the session ends (pinGate.logOff)
}

func (s *guardedSession) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) < 4 || !sensitiveINS[cmd[1]] {
		return s.CardSession.Transmit(ctx, cmd)
	}
	var resp []byte
	err := s.g.run(func() error {
		var err error
		resp, err = s.CardSession.Transmit(ctx, cmd)
		return err
	})
	return resp, err
}

// ATR implements ATRSession, for sessions that know their card's ATR
// (nil otherwise).
func (s *guardedSession) ATR() []byte { return sessionATR(s.CardSession) }

func (s *guardedSession) Pinpad() beid.Pinpad {
	p := s.CardSession.Pinpad()
	if p == nil {
		return nil
	}
	return guardedPinpad{p: p, g: s.g}
}

// guardedPinpad holds a pinpad's PIN entry behind the guard: the reader
// sends the VERIFY itself when the user has typed the PIN, and the entry
// cannot be interrupted, so a request whose context ends meanwhile is
// answered only once the reader is done.
type guardedPinpad struct {
	p beid.Pinpad
	g *cardGuard
}

// PinpadReader passes on the reader's name and firmware, when the wrapped
// pinpad tells them, for the driver's per-reader fixes.
func (p guardedPinpad) PinpadReader(ctx context.Context) (string, uint16) {
	if r, ok := p.p.(beid.PinpadReader); ok {
		return r.PinpadReader(ctx)
	}
	return "", 0
}

func (p guardedPinpad) VerifyPINDirect(ctx context.Context, verifyStructure []byte) ([]byte, error) {
	var resp []byte
	err := p.g.run(func() error {
		var err error
		resp, err = p.p.VerifyPINDirect(ctx, verifyStructure)
		return err
	})
	return resp, err
}
