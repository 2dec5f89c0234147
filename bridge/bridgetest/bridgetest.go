// Package bridgetest provides a scripted bridge.Prompter for tests.
//
// It is for tests only: it answers dialogs nobody sees. The cardbridge
// binary must never use it, and no flag of the binary selects it.
package bridgetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/cardbridge/cardbridge/bridge"
)

// Kind names a dialog.
type Kind int

// The dialogs of bridge.Prompter.
const (
	Consent Kind = iota + 1
	PIN
	ConfirmSignature
	ConfirmLastTry
	PinpadNotice
)

func (k Kind) String() string {
	switch k {
	case Consent:
		return "consent"
	case PIN:
		return "pin"
	case ConfirmSignature:
		return "confirm-signature"
	case ConfirmLastTry:
		return "confirm-last-try"
	case PinpadNotice:
		return "pinpad-notice"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Answer is a scripted reply to one dialog.
type Answer struct {
	Decision bridge.ConsentDecision // for Consent
	PIN      string                 // for PIN
	OK       bool                   // for ConfirmSignature and ConfirmLastTry
	Err      error                  // returned instead, when set
	// Block keeps the dialog open until its context is done, as a user
	// who does not answer; the dialog then returns the context's error.
	Block bool
	// Hold, when not nil, keeps the dialog open until Hold is closed (the
	// user answers, with this Answer) or its context is done (the dialog
	// is closed under the user, as with Block).
	Hold <-chan struct{}
}

// Call records one dialog the Prompter was asked to show.
type Call struct {
	Kind          Kind
	Origin        string
	Reader        string
	Purpose       string
	TriesLeft     int
	DocumentName  string
	HashAlgorithm string
	DigestHex     string
	// OfferBlock: the dialog offered "block this site".
	OfferBlock bool
	// Closed is set when the dialog's context ended while it was open.
	Closed bool
}

// Prompter answers each dialog with the next Answer queued for its kind.
// With no answer queued it fails closed: consent is denied, confirmations
// refused and the PIN dialog cancelled. The zero value is ready to use.
type Prompter struct {
	mu     sync.Mutex
	queues map[Kind][]Answer
	calls  []Call
	opened chan Call
}

// Push queues answers for dialogs of kind k.
func (p *Prompter) Push(k Kind, answers ...Answer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queues == nil {
		p.queues = make(map[Kind][]Answer)
	}
	p.queues[k] = append(p.queues[k], answers...)
}

// AllowConsent queues consent answers.
func (p *Prompter) AllowConsent(d bridge.ConsentDecision) { p.Push(Consent, Answer{Decision: d}) }

// EnterPIN queues a PIN.
func (p *Prompter) EnterPIN(pin string) { p.Push(PIN, Answer{PIN: pin}) }

// Confirm queues a yes or no for a confirmation dialog.
func (p *Prompter) Confirm(k Kind, ok bool) { p.Push(k, Answer{OK: ok}) }

// Calls returns the dialogs shown so far, oldest first.
func (p *Prompter) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Opened returns a channel that receives every dialog as it opens, for
// tests that act while a dialog is on screen. Only dialogs opened after
// the first call are sent; up to 64 are buffered, later ones dropped.
func (p *Prompter) Opened() <-chan Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.opened == nil {
		p.opened = make(chan Call, 64)
	}
	return p.opened
}

func (p *Prompter) next(ctx context.Context, c Call, fixed ...Answer) (Answer, error) {
	p.mu.Lock()
	var a Answer
	q := p.queues[c.Kind]
	has := len(q) > 0
	if len(fixed) > 0 {
		a, has = fixed[0], true
	} else if has {
		a, p.queues[c.Kind] = q[0], q[1:]
	}
	i := len(p.calls)
	p.calls = append(p.calls, c)
	if p.opened != nil {
		select {
		case p.opened <- c:
		default:
		}
	}
	p.mu.Unlock()
	if !has {
		return Answer{}, nil
	}
	if a.Block || a.Hold != nil {
		select {
		case <-a.Hold: // nil with Block alone: only ctx ends the wait
		case <-ctx.Done():
			p.mu.Lock()
			p.calls[i].Closed = true
			p.mu.Unlock()
			return Answer{}, ctx.Err()
		}
	}
	return a, a.Err
}

// Consent implements bridge.Prompter.
func (p *Prompter) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	a, err := p.next(ctx, Call{Kind: Consent, Origin: req.Origin})
	if err != nil {
		return bridge.Deny, err
	}
	return a.Decision, nil
}

// PIN implements bridge.Prompter. An empty queue cancels the dialog.
func (p *Prompter) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	a, err := p.next(ctx, Call{Kind: PIN, Origin: req.Origin, Reader: req.Reader, Purpose: req.Purpose,
		TriesLeft: req.TriesLeft, DocumentName: req.DocumentName, OfferBlock: req.OfferBlock})
	if err != nil {
		return nil, err
	}
	if a.PIN == "" {
		return nil, bridge.ErrPromptCancelled
	}
	return []byte(a.PIN), nil
}

// ConfirmSignature implements bridge.Prompter.
func (p *Prompter) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	a, err := p.next(ctx, Call{Kind: ConfirmSignature, Origin: req.Origin, DocumentName: req.DocumentName,
		HashAlgorithm: req.HashAlgorithm, DigestHex: req.DigestHex, OfferBlock: req.OfferBlock})
	return a.OK && err == nil, err
}

// ConfirmLastTry implements bridge.Prompter.
func (p *Prompter) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	a, err := p.next(ctx, Call{Kind: ConfirmLastTry, Origin: req.Origin, Reader: req.Reader, Purpose: req.Purpose,
		TriesLeft: req.TriesLeft, DocumentName: req.DocumentName, OfferBlock: req.OfferBlock})
	return a.OK && err == nil, err
}

// PinpadNotice implements bridge.Prompter: the notice stays open until
// ctx ends, whatever is queued.
func (p *Prompter) PinpadNotice(ctx context.Context, req bridge.PINRequest) error {
	_, err := p.next(ctx, Call{Kind: PinpadNotice, Origin: req.Origin, Reader: req.Reader, Purpose: req.Purpose,
		TriesLeft: req.TriesLeft, DocumentName: req.DocumentName}, Answer{Block: true})
	return err
}
