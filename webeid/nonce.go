package webeid

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"
)

// NonceBytes is the number of random bytes in a challenge nonce; its
// base64 form is 44 characters, the minimum the Web eID protocol (and the
// daemon) accepts.
const NonceBytes = 32

// NonceStore remembers issued challenge nonces, each bound to the session
// it was issued to, until it is used once. A portal with several server
// instances plugs in its shared session store; MemoryNonceStore is the
// in-process default. Implementations must be safe for concurrent use, and
// must never make room for one session's nonce by forgetting another
// session's live one: nonces are handed to anyone who asks, so that would
// let strangers log real users out of their login (see the package
// documentation).
type NonceStore interface {
	// Issue records a nonce for session that stays valid until expires.
	// It fails with ErrNonceStoreFull when the store may not hold more.
	Issue(ctx context.Context, session, nonce string, expires time.Time) error
	// Consume marks the session's nonce as used and returns the expiry it
	// was issued with. It fails with ErrNonceUnknown for a nonce it does
	// not know for this session and with ErrNonceReplayed for one that was
	// consumed before; a store that cannot tell the two apart (one that
	// deletes on use) returns ErrNonceUnknown for both, which is just as
	// safe. Expiry is checked by the caller, so a store may keep expired
	// entries around.
	Consume(ctx context.Context, session, nonce string) (expires time.Time, err error)
}

// Capacity of the default MemoryNonceStore.
const (
	// DefaultMaxNonces bounds the nonces of all sessions together.
	DefaultMaxNonces = 100_000
	// DefaultNoncesPerSession bounds the live nonces of one session: a
	// user with a few tabs open, not a script asking in a loop.
	DefaultNoncesPerSession = 4
)

// MemoryNonceStore is a bounded in-memory NonceStore, partitioned by
// session. A session that asks for more than its share of nonces loses its
// own oldest one; when all sessions together hold the maximum, new nonces
// are refused (ErrNonceStoreFull) until some expire. Nothing a session (or
// any number of sessions) does can evict another session's live nonce.
// Used nonces are kept as tombstones until they expire, so that a replay
// is reported as such.
type MemoryNonceStore struct {
	max        int
	perSession int
	now        func() time.Time

	mu       sync.Mutex
	sessions map[string][]*nonceEntry // each oldest first, at most perSession
	total    int
	order    []*nonceEntry // issue order, for reclaiming expired entries; the prefix before head is dead, and so are gone entries
	head     int
}

type nonceEntry struct {
	session, nonce string
	expires        time.Time
	used           bool
	gone           bool // removed from sessions; skip when met in order
}

// NewMemoryNonceStore returns a store holding at most maxEntries nonces in
// all (DefaultMaxNonces when maxEntries <= 0) and at most perSession per
// session (DefaultNoncesPerSession when perSession <= 0). now is the clock
// used to drop expired entries; nil means time.Now.
func NewMemoryNonceStore(maxEntries, perSession int, now func() time.Time) *MemoryNonceStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxNonces
	}
	if perSession <= 0 {
		perSession = DefaultNoncesPerSession
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryNonceStore{max: maxEntries, perSession: perSession, now: now, sessions: make(map[string][]*nonceEntry)}
}

// errNoSession is what Issue says to an empty session key: one key shared
// by everybody would be the global pool this store exists to avoid.
var errNoSession = errors.New("webeid: a nonce must be issued to a session (empty session key)")

// Issue implements NonceStore.
func (s *MemoryNonceStore) Issue(_ context.Context, session, nonce string, expires time.Time) error {
	if session == "" {
		return errNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reclaimLocked(s.now())
	list := s.sessions[session]
	if i := slices.IndexFunc(list, func(e *nonceEntry) bool { return e.nonce == nonce }); i >= 0 {
		// Only possible with a caller-chosen nonce; the newest issue wins.
		s.removeLocked(list[i])
		list = s.sessions[session]
	}
	if len(list) >= s.perSession {
		s.removeLocked(list[0])
	} else if s.total >= s.max {
		return ErrNonceStoreFull
	}
	e := &nonceEntry{session: session, nonce: nonce, expires: expires}
	s.sessions[session] = append(s.sessions[session], e)
	s.total++
	s.order = append(s.order, e)
	return nil
}

// Consume implements NonceStore.
func (s *MemoryNonceStore) Consume(_ context.Context, session, nonce string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.sessions[session], func(e *nonceEntry) bool { return e.nonce == nonce })
	if session == "" || i < 0 {
		return time.Time{}, ErrNonceUnknown
	}
	e := s.sessions[session][i]
	if e.used {
		return time.Time{}, ErrNonceReplayed
	}
	e.used = true
	return e.expires, nil
}

// Len reports how many nonces (issued or used, not yet forgotten) the store
// holds.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// reclaimLocked drops expired entries from the front of the issue order.
// Entries are issued with (nearly) the same TTL, so issue order is expiry
// order and the scan stops at the first live one.
func (s *MemoryNonceStore) reclaimLocked(now time.Time) {
	for s.head < len(s.order) {
		e := s.order[s.head]
		if !e.gone && now.Before(e.expires) {
			break
		}
		s.removeLocked(e)
		s.order[s.head] = nil
		s.head++
	}
	// Compact once dead entries (expired at the front, or pushed out of a
	// session anywhere) dominate, so the slice stays within a small
	// multiple of the live count under any traffic.
	if live := len(s.order) - s.head; live > 64 && live > 2*s.total {
		kept := s.order[:0]
		for _, e := range s.order[s.head:] {
			if !e.gone {
				kept = append(kept, e)
			}
		}
		clear(s.order[len(kept):])
		s.order = kept
		s.head = 0
	}
}

// removeLocked forgets e (if not yet forgotten). Its slot in order is
// skipped later.
func (s *MemoryNonceStore) removeLocked(e *nonceEntry) {
	if e.gone {
		return
	}
	e.gone = true
	s.total--
	list := slices.DeleteFunc(s.sessions[e.session], func(x *nonceEntry) bool { return x == e })
	if len(list) == 0 {
		delete(s.sessions, e.session)
	} else {
		s.sessions[e.session] = list
	}
}

// newNonce returns NonceBytes of crypto/rand randomness as standard base64.
func newNonce() (string, error) {
	b := make([]byte, NonceBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
