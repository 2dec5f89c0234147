package webeid

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryNonceStore(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: testNow}
	s := NewMemoryNonceStore(4, 2, c.Now)
	exp := testNow.Add(time.Minute)

	if _, err := s.Consume(ctx, "s1", "never"); !errors.Is(err, ErrNonceUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.Issue(ctx, "s1", "a", exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, "s2", "a"); !errors.Is(err, ErrNonceUnknown) {
		t.Fatalf("another session's nonce: %v", err)
	}
	got, err := s.Consume(ctx, "s1", "a")
	if err != nil || !got.Equal(exp) {
		t.Fatalf("Consume a = %v, %v", got, err)
	}
	if _, err := s.Consume(ctx, "s1", "a"); !errors.Is(err, ErrNonceReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if err := s.Issue(ctx, "", "x", exp); err == nil {
		t.Fatal("empty session accepted")
	}

	// Per session: a third nonce in s1 pushes out s1's oldest (the
	// tombstone "a"), then "b".
	for _, n := range []string{"b", "c", "d"} {
		if err := s.Issue(ctx, "s1", n, exp); err != nil {
			t.Fatal(err)
		}
	}
	// In all: s1 holds 2, s2 may add 2, then the store is full.
	for _, n := range []string{"e", "f"} {
		if err := s.Issue(ctx, "s2", n, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Issue(ctx, "s3", "g", exp); !errors.Is(err, ErrNonceStoreFull) {
		t.Fatalf("issue into a full store: %v", err)
	}
	if s.Len() != 4 {
		t.Fatalf("Len = %d", s.Len())
	}
	for _, tc := range []struct {
		session, nonce string
		want           error
	}{{"s1", "a", ErrNonceUnknown}, {"s1", "b", ErrNonceUnknown}, {"s1", "c", nil}, {"s1", "d", nil}, {"s2", "e", nil}, {"s2", "f", nil}, {"s3", "g", ErrNonceUnknown}} {
		if _, err := s.Consume(ctx, tc.session, tc.nonce); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("Consume %s/%s = %v, want %v", tc.session, tc.nonce, err, tc.want)
		}
	}

	// Expiry frees room: expired entries go on the next Issue.
	c.Advance(2 * time.Minute)
	if err := s.Issue(ctx, "s3", "h", c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Errorf("after expiry the store holds %d, want 1", s.Len())
	}
}

func TestMemoryNonceStoreReissue(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonceStore(2, 2, func() time.Time { return testNow })
	s.Issue(ctx, "s", "x", testNow.Add(time.Minute))
	s.Issue(ctx, "s", "x", testNow.Add(2*time.Minute))
	s.Issue(ctx, "s", "y", testNow.Add(2*time.Minute))
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	exp, err := s.Consume(ctx, "s", "x")
	if err != nil || !exp.Equal(testNow.Add(2*time.Minute)) {
		t.Fatalf("Consume x = %v, %v", exp, err)
	}
}

// TestNonceFloodKeepsLiveNonce is the login denial of service the store is
// built against: after a user's session got its nonce, 50,000 anonymous
// requests, all from one client or each from a fresh session, must not
// make that nonce unusable, and memory must stay bounded.
func TestNonceFloodKeepsLiveNonce(t *testing.T) {
	const flood = 50_000
	for _, tc := range []struct {
		name    string
		session func(i int) string
	}{
		{"one anonymous client", func(int) string { return "anonymous" }},
		{"a fresh session each", func(i int) string { return fmt.Sprint("stranger-", i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := &clock{t: testNow}
			store := NewMemoryNonceStore(10_000, 0, c.Now)
			v, err := NewValidator(Config{Origin: testOrigin, Roots: x509.NewCertPool(), Now: c.Now, Nonces: store})
			if err != nil {
				t.Fatal(err)
			}
			live, err := v.NewNonce(ctx, testSession)
			if err != nil {
				t.Fatal(err)
			}
			refused := 0
			for i := range flood {
				switch _, err := v.NewNonce(ctx, tc.session(i)); {
				case errors.Is(err, ErrNonceStoreFull):
					refused++
				case err != nil:
					t.Fatal(err)
				}
			}
			if store.Len() > 10_000 {
				t.Errorf("store holds %d > 10000", store.Len())
			}
			if cap(store.order) > 4*10_000 {
				t.Errorf("issue order grew to %d", cap(store.order))
			}
			t.Logf("%d of %d flood requests refused", refused, flood)
			if _, err := store.Consume(ctx, testSession, live); err != nil {
				t.Fatalf("the session's live nonce after the flood: %v", err)
			}
		})
	}
}

// TestMemoryNonceStoreConcurrent: many goroutines race to use the same
// nonces; each nonce must be accepted exactly once. Run with -race.
func TestMemoryNonceStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonceStore(0, 0, nil)
	const nonces, workers = 200, 8
	session := func(i int) string { return fmt.Sprint("s", i%50) }
	for i := range nonces {
		s.Issue(ctx, session(i), fmt.Sprint(i), time.Now().Add(time.Minute))
	}
	var mu sync.Mutex
	accepted := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range nonces {
				n := fmt.Sprint(i)
				if _, err := s.Consume(ctx, session(i), n); err == nil {
					mu.Lock()
					accepted[n]++
					mu.Unlock()
				} else if !errors.Is(err, ErrNonceReplayed) {
					t.Errorf("Consume %s: %v", n, err)
				}
				s.Issue(ctx, fmt.Sprint("w", w), "extra"+n, time.Now().Add(time.Minute))
			}
		})
	}
	wg.Wait()
	if len(accepted) != nonces {
		t.Fatalf("%d nonces accepted, want %d", len(accepted), nonces)
	}
	for n, c := range accepted {
		if c != 1 {
			t.Errorf("nonce %s accepted %d times", n, c)
		}
	}
}
