package webeid

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// NonceBytes is the number of random bytes in a challenge nonce; its
// base64 form is 44 characters, the minimum the Web eID protocol (and the
// daemon) accepts.
const NonceBytes = 32

// NonceStore remembers issued challenge nonces until they are used once.
// A portal with several server instances plugs in its shared session store;
// MemoryNonceStore is the in-process default. Implementations must be safe
// for concurrent use.
type NonceStore interface {
	// Issue records a nonce that stays valid until expires.
	Issue(ctx context.Context, nonce string, expires time.Time) error
	// Consume marks the nonce as used and returns the expiry it was issued
	// with. It fails with ErrNonceUnknown for a nonce it does not know and
	// with ErrNonceReplayed for one that was consumed before; a store that
	// cannot tell the two apart (one that deletes on use) returns
	// ErrNonceUnknown for both, which is just as safe. Expiry is checked by
	// the caller, so a store may keep expired entries around.
	Consume(ctx context.Context, nonce string) (expires time.Time, err error)
}

// DefaultMaxNonces is the capacity of the default MemoryNonceStore.
const DefaultMaxNonces = 50_000

// MemoryNonceStore is a bounded in-memory NonceStore. Used nonces are kept
// as tombstones until they expire so that a replay is reported as such.
// When the store is full the oldest entry is forgotten: nonces are issued
// to anyone who asks, so refusing new ones would let a flood lock every
// user out, whereas forgetting the oldest only hurts a user who waited
// longest (and whose nonce is closest to expiry anyway).
type MemoryNonceStore struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*nonceEntry
	order   []*nonceEntry // issue order; the prefix before head is dead
	head    int
}

type nonceEntry struct {
	nonce   string
	expires time.Time
	used    bool
	gone    bool // removed from entries; skip when met in order
}

// NewMemoryNonceStore returns a store holding at most maxEntries nonces
// (DefaultMaxNonces when maxEntries <= 0). now is the clock used to drop
// expired entries; nil means time.Now.
func NewMemoryNonceStore(maxEntries int, now func() time.Time) *MemoryNonceStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxNonces
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryNonceStore{max: maxEntries, now: now, entries: make(map[string]*nonceEntry)}
}

// Issue implements NonceStore.
func (s *MemoryNonceStore) Issue(_ context.Context, nonce string, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(s.now())
	if old, ok := s.entries[nonce]; ok {
		// Only possible with a caller-chosen nonce; the newest issue wins.
		old.gone = true
		delete(s.entries, nonce)
	}
	for len(s.entries) >= s.max {
		s.dropOldestLocked()
	}
	e := &nonceEntry{nonce: nonce, expires: expires}
	s.entries[nonce] = e
	s.order = append(s.order, e)
	return nil
}

// Consume implements NonceStore.
func (s *MemoryNonceStore) Consume(_ context.Context, nonce string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[nonce]
	if !ok {
		return time.Time{}, ErrNonceUnknown
	}
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
	return len(s.entries)
}

// evictLocked drops expired entries from the front of the issue order.
// Entries are issued with (nearly) the same TTL, so issue order is expiry
// order and the scan stops at the first live one.
func (s *MemoryNonceStore) evictLocked(now time.Time) {
	for s.head < len(s.order) {
		e := s.order[s.head]
		if !e.gone && now.Before(e.expires) {
			break
		}
		s.removeHeadLocked()
	}
}

func (s *MemoryNonceStore) dropOldestLocked() {
	for s.head < len(s.order) {
		gone := s.order[s.head].gone
		s.removeHeadLocked()
		if !gone {
			return
		}
	}
}

func (s *MemoryNonceStore) removeHeadLocked() {
	e := s.order[s.head]
	if !e.gone {
		e.gone = true
		delete(s.entries, e.nonce)
	}
	s.order[s.head] = nil
	s.head++
	// Compact once the dead prefix dominates, so the slice does not grow
	// without bound under steady traffic.
	if s.head > 64 && s.head*2 > len(s.order) {
		n := copy(s.order, s.order[s.head:])
		clear(s.order[n:])
		s.order = s.order[:n]
		s.head = 0
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
