package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// cardFunc is the card work of one request: it runs inside a card session,
// under the reader's lock, and returns what the method needs from the card.
// It must not touch anything the request goroutine uses after withCard
// returns (reqCtx fields, variables of the method): when the request is
// answered before the card is done, it goes on alone in the background.
type cardFunc[T any] func(ctx context.Context, sess CardSession, card *beid.Card) (T, error)

// withCard runs fn on the card in the reader, under the reader's lock and an
// exclusive card session, and returns its result.
//
// A card exchange cannot be interrupted: PC/SC's SCardTransmit (and a
// pinpad's PIN entry) returns when the card or reader answers, whatever the
// request's context says. So fn runs on a goroutine of its own, and when
// ctx ends first (the deadline, the page's cancel, the page leaving)
// withCard returns at once with ctx's error, and the page gets TIMEOUT or
// CANCELLED at that moment. The card work goes on in the background until
// the card answers: it keeps the reader's lock and the session, so the next
// request for the reader waits for it (or times out itself) instead of
// interleaving commands with it, and it stops at its next exchange, which
// sees ctx done. Commands that spend a PIN try or use a key are held by a
// cardGuard, so that none is sent once the request has been answered.
func withCard[T any](ctx context.Context, rc *reqCtx, info ReaderInfo, fn cardFunc[T]) (T, error) {
	var zero T
	s := rc.server()
	unlock, err := s.lockReader(ctx, info.Name)
	if err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned worker never blocks
	g := &cardGuard{ctx: ctx}
	start := time.Now()
	s.cardWG.Add(1)
	go func() {
		defer s.cardWG.Done()
		defer unlock()
		v, err := runSession(ctx, s.cfg.Readers, info.Name, g, fn)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
	}
	g.wait()
	select {
	case r := <-done:
		// It finished while we looked away: its outcome is the truth.
		return r.v, r.err
	default:
	}
	// Let the log tell a wedged reader from a slow page: the request line
	// says TIMEOUT now, this line says how long the card really took.
	method := rc.method
	s.cardWG.Add(1) // the worker holds the count above zero
	go func() {
		defer s.cardWG.Done()
		<-done
		s.log.Info("card work ended after its request was answered",
			"origin", rc.conn.origin, "method", method, "reader", info.Name,
			"duration", time.Since(start).Round(time.Millisecond))
	}()
	return zero, fmt.Errorf("bridge: request ended while the card was busy: %w", ctx.Err())
}

// runSession opens a card session on reader and runs fn in it, with the
// session's sensitive commands behind g.
func runSession[T any](ctx context.Context, readers Readers, reader string, g *cardGuard, fn cardFunc[T]) (T, error) {
	sess, err := readers.Open(ctx, reader)
	if err != nil {
		var zero T
		return zero, err
	}
	defer sess.Close()
	gs := &guardedSession{CardSession: sess, g: g}
	return fn(ctx, gs, beid.New(gs))
}

// cardGuard orders, for one request, the commands that spend a PIN try or
// use a private key against the request's answer: such a command is sent
// only while the request's context is live, and the request is answered
// (after its context ended) only once no such command is in flight. So no
// PIN reaches the card, and nothing is signed, after the page was told
// TIMEOUT or CANCELLED. Checking the context before sending is not enough
// on its own: the deadline can pass between the check and the send.
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
	g *cardGuard
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

func (p guardedPinpad) VerifyPINDirect(ctx context.Context, verifyStructure []byte) ([]byte, error) {
	var resp []byte
	err := p.g.run(func() error {
		var err error
		resp, err = p.p.VerifyPINDirect(ctx, verifyStructure)
		return err
	})
	return resp, err
}
