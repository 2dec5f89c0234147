package main

import (
	"context"
	"errors"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/config"
)

// sharedDialogs makes the dialogs of all the user's cardbridge processes
// one queue: the daemon and the hosts that serve an extension session in
// their own process (when no daemon runs) each queue their own dialogs,
// and take a per-user lock around each one, so that two dialogs are never
// on screen at once, whichever process asks. lock blocks until the lock
// is held or ctx ends.
//
// refusals, when not nil, is the refusal store the processes share. The
// core checks it before it queues a dialog, but a dialog that waited for
// another process's is checked again once its turn comes: a page that
// opened several sessions at once, each in its own host process, must
// not get a dialog right after the user refused the one before.
type sharedDialogs struct {
	p        bridge.Prompter
	lock     func(ctx context.Context) (unlock func(), err error)
	refusals bridge.RefusalStore
}

// errRefusedMeanwhile ends a consent dialog that waited for another
// process's, in which the user refused the site (or every site, for a
// while): the site's page gets CONSENT_DENIED, and the refusal is not
// counted twice.
var errRefusedMeanwhile = errors.New("cardbridge: the user refused this site meanwhile")

func (s sharedDialogs) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return bridge.Deny, err
	}
	defer unlock()
	if s.refusals != nil {
		r := s.refusals.Load()
		if r.ConsentPaused(config.Site(req.Origin), time.Now()) {
			return bridge.Deny, errRefusedMeanwhile
		}
	}
	return s.p.Consent(ctx, req)
}

// lockDialog takes the lock for a PIN, last-try or signature dialog of
// origin, and fails when the origin's back-off began meanwhile.
func (s sharedDialogs) lockDialog(ctx context.Context, origin string) (unlock func(), err error) {
	unlock, err = s.lock(ctx)
	if err != nil || s.refusals == nil {
		return unlock, err
	}
	r := s.refusals.Load()
	if err := r.DialogPaused(origin, time.Now()); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

func (s sharedDialogs) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	unlock, err := s.lockDialog(ctx, req.Origin)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.p.PIN(ctx, req)
}

func (s sharedDialogs) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	unlock, err := s.lockDialog(ctx, req.Origin)
	if err != nil {
		return false, err
	}
	defer unlock()
	return s.p.ConfirmSignature(ctx, req)
}

func (s sharedDialogs) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	unlock, err := s.lockDialog(ctx, req.Origin)
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
