package webeid

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryNonceStore(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: testNow}
	s := NewMemoryNonceStore(3, c.Now)
	exp := testNow.Add(time.Minute)

	if _, err := s.Consume(ctx, "never"); !errors.Is(err, ErrNonceUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.Issue(ctx, "a", exp); err != nil {
		t.Fatal(err)
	}
	got, err := s.Consume(ctx, "a")
	if err != nil || !got.Equal(exp) {
		t.Fatalf("Consume a = %v, %v", got, err)
	}
	if _, err := s.Consume(ctx, "a"); !errors.Is(err, ErrNonceReplayed) {
		t.Fatalf("replay: %v", err)
	}

	// Capacity: issuing past the cap forgets the oldest entries (the
	// tombstone "a" first, then "b").
	for _, n := range []string{"b", "c", "d", "e"} {
		if err := s.Issue(ctx, n, exp); err != nil {
			t.Fatal(err)
		}
		if s.Len() > 3 {
			t.Fatalf("store holds %d > 3", s.Len())
		}
	}
	for n, want := range map[string]error{"a": ErrNonceUnknown, "b": ErrNonceUnknown, "c": nil, "d": nil, "e": nil} {
		if _, err := s.Consume(ctx, n); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("Consume %s = %v, want %v", n, err, want)
		}
	}

	// Expiry: expired entries are dropped on the next Issue.
	c.Advance(2 * time.Minute)
	if err := s.Issue(ctx, "f", c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Errorf("after expiry the store holds %d, want 1", s.Len())
	}
}

func TestMemoryNonceStoreReissue(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonceStore(2, func() time.Time { return testNow })
	s.Issue(ctx, "x", testNow.Add(time.Minute))
	s.Issue(ctx, "x", testNow.Add(2*time.Minute))
	s.Issue(ctx, "y", testNow.Add(2*time.Minute))
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	exp, err := s.Consume(ctx, "x")
	if err != nil || !exp.Equal(testNow.Add(2*time.Minute)) {
		t.Fatalf("Consume x = %v, %v", exp, err)
	}
}

// TestMemoryNonceStoreBounded issues far more nonces than the cap, as a
// flood of POST /api/nonce would, and checks memory stays bounded and the
// most recent nonces still work.
func TestMemoryNonceStoreBounded(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonceStore(100, func() time.Time { return testNow })
	for i := range 10_000 {
		s.Issue(ctx, fmt.Sprint(i), testNow.Add(time.Minute))
	}
	if s.Len() != 100 {
		t.Fatalf("Len = %d", s.Len())
	}
	if cap(s.order) > 1000 {
		t.Errorf("order slice grew to %d", cap(s.order))
	}
	if _, err := s.Consume(ctx, "9999"); err != nil {
		t.Errorf("newest nonce: %v", err)
	}
	if _, err := s.Consume(ctx, "0"); !errors.Is(err, ErrNonceUnknown) {
		t.Errorf("oldest nonce: %v", err)
	}
}

// TestMemoryNonceStoreConcurrent: many goroutines race to use the same
// nonces; each nonce must be accepted exactly once. Run with -race.
func TestMemoryNonceStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonceStore(0, nil)
	const nonces, workers = 200, 8
	for i := range nonces {
		s.Issue(ctx, fmt.Sprint(i), time.Now().Add(time.Minute))
	}
	var mu sync.Mutex
	accepted := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range nonces {
				n := fmt.Sprint(i)
				if _, err := s.Consume(ctx, n); err == nil {
					mu.Lock()
					accepted[n]++
					mu.Unlock()
				} else if !errors.Is(err, ErrNonceReplayed) {
					t.Errorf("Consume %s: %v", n, err)
				}
				s.Issue(ctx, "extra"+n, time.Now().Add(time.Minute))
			}
		}()
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
