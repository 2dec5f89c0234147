package bridge

import (
	"context"
	"slices"
	"sync"
)

// Prompter shows the native dialogs the user answers. Every request names
// the page's origin, and every dialog must show it: the origin is what the
// user decides about. The server calls one method at a time (one dialog on
// screen at once) and cancels ctx when the page disconnects, cancels the
// request or the request times out; the dialog must then close.
//
// A Prompter returns ErrPromptCancelled when the user dismissed the dialog
// or it timed out on its own.
type Prompter interface {
	// Consent asks whether the origin may use the card at all.
	Consent(ctx context.Context, req ConsentRequest) (ConsentDecision, error)
	// PIN asks for the PIN. The caller wipes the returned slice after use.
	PIN(ctx context.Context, req PINRequest) ([]byte, error)
	// ConfirmSignature asks whether the origin may sign the given digest.
	ConfirmSignature(ctx context.Context, req SignatureRequest) (bool, error)
	// ConfirmLastTry asks, when a single PIN try is left, whether the user
	// wants to risk it; the PIN is asked only after a yes.
	ConfirmLastTry(ctx context.Context, req PINRequest) (bool, error)
	// PinpadNotice shows, until ctx ends, a dialog without input saying
	// that req.Origin asks for the PIN on the reader's keypad: the
	// reader itself cannot say who asks. It returns when ctx ends (the
	// keypad entry is over), the dialog closed.
	PinpadNotice(ctx context.Context, req PINRequest) error
}

// ConsentRequest is what the consent dialog shows.
type ConsentRequest struct {
	Origin string
}

// ConsentDecision is the user's answer to a consent dialog.
type ConsentDecision int

const (
	// Deny refuses the origin for this connection.
	Deny ConsentDecision = iota
	// AllowOnce allows the origin for this connection only.
	AllowOnce
	// AllowAlways allows the origin and stores the decision.
	AllowAlways
)

func (d ConsentDecision) String() string {
	switch d {
	case AllowOnce:
		return "allow-once"
	case AllowAlways:
		return "allow-always"
	}
	return "deny"
}

// PIN purposes, as in PINRequest.Purpose.
const (
	PurposeAuthenticate = "authenticate"
	PurposeSign         = "sign"
	PurposeVerify       = "verify"
)

// PINRequest is what a PIN or last-try dialog shows.
type PINRequest struct {
	Origin       string
	Reader       string
	Purpose      string // PurposeAuthenticate, PurposeSign or PurposeVerify
	TriesLeft    int
	DocumentName string // for PurposeSign, when the page named the document
	// OfferBlock: the site's dialogs were refused several times in a
	// row; the dialog offers "block this site" (ErrBlockSite).
	OfferBlock bool
}

// SignatureRequest is what the confirm-signature dialog shows.
type SignatureRequest struct {
	Origin        string
	DocumentName  string
	HashAlgorithm string // "SHA-256", "SHA-384" or "SHA-512"
	DigestHex     string
	OfferBlock    bool // as in PINRequest
}

// ConsentStore remembers the origins the user allowed for good.
// Implementations must be safe for concurrent use.
type ConsentStore interface {
	Allowed(origin string) bool
	Allow(origin string) error
	Revoke(origin string) error
	List() []string
}

// MemoryConsentStore is a ConsentStore kept in memory, forgotten when the
// process ends. The zero value is ready to use.
type MemoryConsentStore struct {
	mu      sync.Mutex
	origins map[string]bool
	blocked map[string]bool
}

var _ SiteBlocker = (*MemoryConsentStore)(nil)

// Block records site as blocked.
func (s *MemoryConsentStore) Block(site string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked == nil {
		s.blocked = make(map[string]bool)
	}
	s.blocked[site] = true
	return nil
}

// Unblock forgets that site was blocked.
func (s *MemoryConsentStore) Unblock(site string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, site)
	return nil
}

// Blocked reports whether site is blocked.
func (s *MemoryConsentStore) Blocked(site string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked[site]
}

// BlockedSites returns the blocked sites, sorted.
func (s *MemoryConsentStore) BlockedSites() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.blocked))
	for o := range s.blocked {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// Allowed reports whether origin was allowed.
func (s *MemoryConsentStore) Allowed(origin string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.origins[origin]
}

// Allow stores origin as allowed.
func (s *MemoryConsentStore) Allow(origin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.origins == nil {
		s.origins = make(map[string]bool)
	}
	s.origins[origin] = true
	return nil
}

// Revoke forgets origin.
func (s *MemoryConsentStore) Revoke(origin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.origins, origin)
	return nil
}

// List returns the allowed origins, sorted.
func (s *MemoryConsentStore) List() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.origins))
	for o := range s.origins {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// DenyPrompter is a Prompter that refuses everything without showing
// anything. It is the fail-closed default when no Prompter is configured.
type DenyPrompter struct{}

// Consent denies.
func (DenyPrompter) Consent(context.Context, ConsentRequest) (ConsentDecision, error) {
	return Deny, nil
}

// PIN reports a cancelled prompt.
func (DenyPrompter) PIN(context.Context, PINRequest) ([]byte, error) { return nil, ErrPromptCancelled }

// ConfirmSignature refuses.
func (DenyPrompter) ConfirmSignature(context.Context, SignatureRequest) (bool, error) {
	return false, nil
}

// ConfirmLastTry refuses.
func (DenyPrompter) ConfirmLastTry(context.Context, PINRequest) (bool, error) { return false, nil }

// PinpadNotice shows nothing; the PIN flow never reaches the keypad
// with DenyPrompter, whose consent is always refused.
func (DenyPrompter) PinpadNotice(ctx context.Context, _ PINRequest) error {
	<-ctx.Done()
	return nil
}

// promptQueue lets one dialog on screen at a time: a page must not be able
// to stack dialogs over another page's, and the user must see which origin
// each one is for.
type promptQueue struct {
	p   Prompter
	sem chan struct{}
}

func newPromptQueue(p Prompter) *promptQueue {
	return &promptQueue{p: p, sem: make(chan struct{}, 1)}
}

// acquire waits for the dialog slot. page, when not nil, is the context of
// the page's connection, of which ctx is a descendant.
func (q *promptQueue) acquire(ctx, page context.Context) error {
	select {
	case q.sem <- struct{}{}:
		// select picks at random when both are ready: a request whose
		// page already left must not open a dialog. The page's own
		// context is asked too: when a page leaves, its requests'
		// contexts are cancelled one after another, and the dialog that
		// one of them closes can let the next one in before its turn to
		// be cancelled comes.
		err := ctx.Err()
		if err == nil && page != nil {
			err = page.Err()
		}
		if err != nil {
			<-q.sem
			return err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *promptQueue) release() { <-q.sem }

// The dialogs are shown once their turn comes, unless ready, asked then,
// says they must not be: a dialog may have waited behind others, whose
// answers changed what may be shown.
// consent shows the consent dialog when its turn comes and ready allows
// it. record takes the outcome before the next dialog may start: a dialog
// queued behind this one checks, in its ready, what the user decided here.
func (q *promptQueue) consent(ctx context.Context, req ConsentRequest, ready func() error,
	record func(ConsentDecision, error) (ConsentDecision, error)) (ConsentDecision, error) {
	if err := q.acquire(ctx, nil); err != nil {
		return record(Deny, err)
	}
	defer q.release()
	if err := ready(); err != nil {
		return record(Deny, err)
	}
	return record(q.p.Consent(ctx, req))
}

func (q *promptQueue) pin(ctx, page context.Context, ready func() error, req PINRequest) ([]byte, error) {
	if err := q.acquire(ctx, page); err != nil {
		return nil, err
	}
	defer q.release()
	if err := ready(); err != nil {
		return nil, err
	}
	return q.p.PIN(ctx, req)
}

func (q *promptQueue) confirmSignature(ctx, page context.Context, ready func() error, req SignatureRequest) (bool, error) {
	if err := q.acquire(ctx, page); err != nil {
		return false, err
	}
	defer q.release()
	if err := ready(); err != nil {
		return false, err
	}
	return q.p.ConfirmSignature(ctx, req)
}

func (q *promptQueue) confirmLastTry(ctx, page context.Context, ready func() error, req PINRequest) (bool, error) {
	if err := q.acquire(ctx, page); err != nil {
		return false, err
	}
	defer q.release()
	if err := ready(); err != nil {
		return false, err
	}
	return q.p.ConfirmLastTry(ctx, req)
}

// wipe overwrites a PIN buffer so that it does not linger in memory.
func wipe(b []byte) {
	clear(b)
}
