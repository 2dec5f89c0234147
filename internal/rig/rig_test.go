package rig_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/rig"
)

type card struct{}

func (card) ATR() []byte { return []byte{0x3B, 0x02, 0x14, 0x50} }
func (card) Reset()      {}
func (card) Transmit(context.Context, []byte) ([]byte, error) {
	return []byte{0x90, 0x00}, nil
}

// Parallel tests (and, through flock, parallel test processes) get the slot
// one after the other.
func TestInsertIsExclusive(t *testing.T) {
	rig.Require(t)
	type span struct{ start, end time.Time }
	var (
		mu    sync.Mutex
		spans []span
	)
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b", "c"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				rig.Insert(t, card{})
				start := time.Now()
				t.Cleanup(func() {
					// Registered after Insert's cleanups, so it runs
					// before the slot is released.
					mu.Lock()
					spans = append(spans, span{start, time.Now()})
					mu.Unlock()
				})
				time.Sleep(50 * time.Millisecond)
			})
		}
	})
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.start.Before(b.end) && b.start.Before(a.end) {
				t.Errorf("two tests held the slot at once: %v–%v and %v–%v", a.start, a.end, b.start, b.end)
			}
		}
	}
}
