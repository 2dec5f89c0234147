package main

import (
	"context"

	"github.com/cardbridge/cardbridge/bridge"
)

// sharedDialogs makes the dialogs of all the user's cardbridge processes
// one queue: the daemon and the hosts that serve an extension session in
// their own process (when no daemon runs) each queue their own dialogs,
// and take a per-user lock around each one, so that two dialogs are never
// on screen at once, whichever process asks. lock blocks until the lock
// is held or ctx ends.
type sharedDialogs struct {
	p    bridge.Prompter
	lock func(ctx context.Context) (unlock func(), err error)
}

func (s sharedDialogs) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return bridge.Deny, err
	}
	defer unlock()
	return s.p.Consent(ctx, req)
}

func (s sharedDialogs) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.p.PIN(ctx, req)
}

func (s sharedDialogs) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	return s.p.ConfirmSignature(ctx, req)
}

func (s sharedDialogs) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	return s.p.ConfirmLastTry(ctx, req)
}

func (s sharedDialogs) PinpadNotice(ctx context.Context, req bridge.PINRequest) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return s.p.PinpadNotice(ctx, req)
}
