package bridge

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/cardbridge/cardbridge/config"
)

// ErrBlockSite is what a Prompter returns when the user chose "block
// this site" in a PIN, last-try or signature dialog that offered it
// (PINRequest.OfferBlock, SignatureRequest.OfferBlock).
var ErrBlockSite = errors.New("bridge: the user blocked this site")

// SiteBlocker is implemented by consent stores that keep the sites the
// user blocked, so that a block outlives the daemon. Sites are
// config.Site values ("https://evil.example").
type SiteBlocker interface {
	Block(site string) error
	Unblock(site string) error
	Blocked(site string) bool
	BlockedSites() []string
}

// refusalBackoff is the pause after the n-th refusal in a row: none
// after the first (a user may cancel once and try again at once), then
// Limits.RefusalBackoff, doubled at each refusal, at most
// Limits.MaxRefusalBackoff.
func (l Limits) refusalBackoff(n int) time.Duration {
	if n < 2 {
		return 0
	}
	d := float64(l.RefusalBackoff) * math.Pow(2, float64(min(n-2, 30)))
	return time.Duration(min(d, float64(l.MaxRefusalBackoff)))
}

// askUser shows one dialog of origin's session under the refusal
// back-off, which is kept per site (config.Site): one owner can make any
// number of origins, so a page that moves to another subdomain or port
// keeps its back-off and its count of refusals. A site the user just
// refused a dialog cannot show another until its back-off ends: the
// request fails at once with RATE_LIMITED instead. After Limits.BlockOfferAfter refusals in a row, the dialog
// offers to block the site (show's offerBlock); a user who takes it gets
// the site blocked and its other sessions closed; self, the session
// that asked, ends once it has its answer (session.run). show reports
// whether the user said yes; it passes ready to the dialog queue.
func (core *Core) askUser(self *session, show func(offerBlock bool, ready func() error) (bool, error)) error {
	origin := self.origin
	r := core.refusals.Load()
	if err := r.DialogPaused(origin, time.Now()); err != nil {
		return err
	}
	offer := r.Dialogs[config.Site(origin)].Count >= core.limits.BlockOfferAfter

	// Checked again when the dialog's turn comes: the origin's dialogs
	// queued behind one the user refused must not follow it.
	ready := func() error {
		r := core.refusals.Load()
		return r.DialogPaused(origin, time.Now())
	}
	ok, err := show(offer, ready)
	switch {
	case errors.Is(err, ErrBlockSite):
		core.blockSite(config.Site(origin), self)
		return &Error{Code: CodeConsentDenied, Message: "the user blocked this site", Err: err}
	case err == nil && ok:
		core.noteAnswer(origin, true)
		return nil
	case err == nil, errors.Is(err, ErrPromptCancelled), errors.Is(err, context.Canceled):
		core.noteAnswer(origin, false)
	}
	return err
}

// noteAnswer records how one of origin's PIN, last-try or signature
// dialogs, or a PIN entry on a keypad, ended: a yes ends the back-off of
// origin's site, anything else is one more refusal in a row.
func (core *Core) noteAnswer(origin string, yes bool) {
	site := config.Site(origin)
	if yes {
		if _, ok := core.refusals.Load().Dialogs[site]; !ok {
			return // no write when there was no back-off
		}
	}
	core.refusals.Update(func(r *Refusals) {
		if yes {
			delete(r.Dialogs, site)
			return
		}
		now := time.Now()
		r.prune(now, core.limits)
		if r.Dialogs == nil {
			r.Dialogs = make(map[string]DialogRefusals)
		}
		d := r.Dialogs[site]
		d.Count++
		d.Until = now.Add(core.limits.refusalBackoff(d.Count))
		r.Dialogs[site] = d
	})
}

// BlockSite blocks a site (config.Site) for good, as the user's "block
// this site" does: its pages are refused at once, without a dialog, its
// standing consents revoked and its open sessions closed. The block is
// kept in the consent store when it can keep it (SiteBlocker), else
// until the daemon exits.
func (core *Core) BlockSite(site string) { core.blockSite(site, nil) }

func (core *Core) blockSite(site string, except *session) {
	if b, ok := core.consents.(SiteBlocker); ok {
		if err := b.Block(site); err != nil {
			core.log.Error("cannot store the blocked site", "site", site, "err", err)
		}
	}
	core.mu.Lock()
	core.blocked[site] = true
	core.mu.Unlock()
	for _, o := range core.consents.List() {
		if config.Site(o) == site {
			_ = core.consents.Revoke(o)
		}
	}
	core.log.Info("site blocked by the user", "site", site)
	core.closeSessions(func(c *session) bool { return c != except && config.Site(c.origin) == site })
}

// UnblockSite lifts a block (the tray's "unblock").
func (core *Core) UnblockSite(site string) error {
	core.mu.Lock()
	delete(core.blocked, site)
	core.mu.Unlock()
	if b, ok := core.consents.(SiteBlocker); ok {
		return b.Unblock(site)
	}
	return nil
}

// BlockedSites lists the blocked sites.
func (core *Core) BlockedSites() []string {
	if b, ok := core.consents.(SiteBlocker); ok {
		return b.BlockedSites()
	}
	core.mu.Lock()
	defer core.mu.Unlock()
	out := make([]string, 0, len(core.blocked))
	for s := range core.blocked {
		out = append(out, s)
	}
	return out
}

// siteBlocked reports whether origin's site is blocked.
func (core *Core) siteBlocked(origin string) bool {
	site := config.Site(origin)
	core.mu.Lock()
	blocked := core.blocked[site]
	core.mu.Unlock()
	if b, ok := core.consents.(SiteBlocker); ok && !blocked {
		blocked = b.Blocked(site)
	}
	return blocked
}

// closeSessions ends the open sessions that match.
func (core *Core) closeSessions(match func(*session) bool) {
	core.mu.Lock()
	var end []*session
	for c := range core.sessions {
		if match(c) {
			end = append(end, c)
		}
	}
	core.mu.Unlock()
	for _, c := range end {
		c.cancel()
		c.stream.Close(CloseNormal)
	}
}

// Revoke withdraws origin's standing consent, as the tray's "revoke"
// does, and closes the origin's open sessions at once, whatever their
// grant: they get no more events, and their requests end.
func (core *Core) Revoke(origin string) error {
	err := core.consents.Revoke(origin)
	core.closeSessions(func(c *session) bool { return c.origin == origin })
	return err
}
