package bridge

import (
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/config"
)

// Refusals is what the core remembers of the user's refusals: the
// cooldowns of consent dialogs and the back-off of PIN, last-try and
// signature dialogs. It holds sites and times only, never a
// PIN or anything read from a card.
type Refusals struct {
	// DeniedUntil: the sites (config.Site) whose handshakes are refused
	// without a dialog until then.
	DeniedUntil map[string]time.Time `json:"deniedUntil,omitempty"`
	// Denials are the times of the recent consent denials, all sites
	// together (Limits.DenyBurst).
	Denials []time.Time `json:"denials,omitempty"`
	// QuietUntil: no consent dialog for any site until then.
	QuietUntil time.Time `json:"quietUntil,omitzero"`
	// Dialogs are the PIN, last-try and signature dialogs refused in a
	// row, by site (config.Site). Files written before they were kept
	// by site hold origins here: those entries match no site's key (or
	// the site's own, for an origin that is its site) and expire with
	// the others.
	Dialogs map[string]DialogRefusals `json:"dialogs,omitempty"`
}

// DialogRefusals counts a site's dialogs that ended without a yes.
type DialogRefusals struct {
	Count int       `json:"count"`
	Until time.Time `json:"until"` // no dialog of the site before then
}

// RefusalStore keeps the user's Refusals. The default, a
// MemoryRefusalStore, forgets them with the process; a store that all
// the user's cardbridge processes share (a file) makes a refusal hold
// whichever process the page's next session runs in. Implementations
// must be safe for concurrent use, and make Update atomic with respect
// to every process that shares the store. A store that cannot read or
// write its backing goes on with what it last knew: it never fails the
// caller.
type RefusalStore interface {
	// Load returns the refusals; the caller may modify the result.
	Load() Refusals
	// Update applies f to the refusals and keeps the result.
	Update(f func(*Refusals))
}

// MemoryRefusalStore is a RefusalStore in memory. The zero value is
// ready to use.
type MemoryRefusalStore struct {
	mu sync.Mutex
	r  Refusals
}

// Load returns a copy of the refusals.
func (s *MemoryRefusalStore) Load() Refusals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Clone()
}

// Update applies f to the refusals.
func (s *MemoryRefusalStore) Update(f func(*Refusals)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.r)
}

// Clone returns a deep copy of r.
func (r Refusals) Clone() Refusals {
	r.DeniedUntil = maps.Clone(r.DeniedUntil)
	r.Denials = slices.Clone(r.Denials)
	r.Dialogs = maps.Clone(r.Dialogs)
	return r
}

// ConsentPaused reports whether a consent dialog for site (config.Site)
// must not be shown at now: the site was denied within its cooldown, or
// the user denied so many sites lately that nobody is asked for now.
func (r *Refusals) ConsentPaused(site string, now time.Time) bool {
	return now.Before(r.DeniedUntil[site]) || now.Before(r.QuietUntil)
}

// DialogPaused returns the error (RATE_LIMITED, with the seconds to
// wait) of a PIN, last-try or signature dialog of origin that must not
// be shown at now, the last ones of the origin's site (config.Site)
// having been refused; nil when it may be shown.
func (r *Refusals) DialogPaused(origin string, now time.Time) error {
	wait := r.Dialogs[config.Site(origin)].Until.Sub(now)
	if wait <= 0 {
		return nil
	}
	return &Error{Code: CodeRateLimited, Message: "the user declined this site's last request; wait before asking again",
		Data: map[string]any{"retryAfter": math.Ceil(wait.Seconds())}}
}

// denySite refuses site's handshakes without a dialog until then, or
// longer when it already was.
func (r *Refusals) denySite(site string, until time.Time) {
	if r.DeniedUntil == nil {
		r.DeniedUntil = make(map[string]time.Time)
	}
	if until.After(r.DeniedUntil[site]) {
		r.DeniedUntil[site] = until
	}
}

// refusalMemory is how long refusals in a row of a site's dialogs
// are remembered after their back-off ended, and maxRefusalEntries how
// many sites a Refusals keeps at most, so that a shared store
// stays small.
const (
	refusalMemory     = time.Hour
	maxRefusalEntries = 256
)

// prune drops what no longer matters at now.
func (r *Refusals) prune(now time.Time, l Limits) {
	maps.DeleteFunc(r.DeniedUntil, func(_ string, t time.Time) bool { return !now.Before(t) })
	r.Denials = slices.DeleteFunc(r.Denials, func(t time.Time) bool { return now.Sub(t) >= l.DenyWindow || t.After(now) })
	if len(r.Denials) > l.DenyBurst {
		r.Denials = r.Denials[len(r.Denials)-l.DenyBurst:]
	}
	if !now.Before(r.QuietUntil) {
		r.QuietUntil = time.Time{}
	}
	maps.DeleteFunc(r.Dialogs, func(_ string, d DialogRefusals) bool { return now.Sub(d.Until) > refusalMemory })
	keepLatest(r.DeniedUntil, func(t time.Time) time.Time { return t })
	keepLatest(r.Dialogs, func(d DialogRefusals) time.Time { return d.Until })
}

// keepLatest drops the entries of m with the earliest times until at
// most maxRefusalEntries are left.
func keepLatest[V any](m map[string]V, at func(V) time.Time) {
	if len(m) <= maxRefusalEntries {
		return
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return at(m[a]).Compare(at(m[b])) })
	for _, k := range keys[:len(keys)-maxRefusalEntries] {
		delete(m, k)
	}
}
