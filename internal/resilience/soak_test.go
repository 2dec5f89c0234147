package resilience

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/bridge"
)

// soakBudget bounds the soak test.
type soakBudget struct {
	duration time.Duration
	requests int64
	clients  int
}

// TestSoak sends a mix of requests (version, readers, card, identity,
// address, photo, malformed JSON, an unknown method, cancel) from 20
// concurrent pages that keep reconnecting, for 20 s or 5000 requests (5 s
// and 1000 with -short). Every request must get a typed answer that fits
// it. Afterwards, with the daemon shut down, the goroutines and file
// descriptors are back to where they were and the heap has not grown
// beyond a generous bound.
func TestSoak(t *testing.T) {
	b := soakBudget{duration: 20 * time.Second, requests: 5000, clients: 20}
	if testing.Short() {
		b = soakBudget{duration: 5 * time.Second, requests: 1000, clients: 20}
	}
	// Pages from several sites, within the per-origin connection limit.
	var origins []string
	for i := range 5 {
		origins = append(origins, fmt.Sprintf("https://soak%d.example", i))
	}
	s := newStack(t, stackOptions{origins: origins, deferStart: true})
	wantNN := s.card.Person().Identity.NationalNumber

	// The baseline is taken with the card in and nothing of the daemon
	// running yet.
	baseG, baseFD, baseHeap := snapshotResources(t)
	s.start(bridge.Limits{})

	var (
		sent     atomic.Int64
		answered sync.Map // outcome → *atomic.Int64
		wg       sync.WaitGroup
		failMu   sync.Mutex
		failures []string
	)
	count := func(outcome string) {
		v, _ := answered.LoadOrStore(outcome, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	start := time.Now()
	deadline := start.Add(b.duration)
	ctx, cancel := context.WithTimeout(context.Background(), b.duration+2*wait)
	defer cancel()
	more := func() bool { return time.Now().Before(deadline) && sent.Load() < b.requests }

	for i := range b.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			origin := origins[i%len(origins)]
			for more() {
				c, err := dialURL(s.url, origin)
				if err != nil {
					// A reconnect can race the server's bookkeeping
					// of the previous connection (503); try again.
					count("dial refused")
					time.Sleep(20 * time.Millisecond)
					continue
				}
				n := 5 + rng.IntN(20)
				for j := 0; j < n && more(); j++ {
					sent.Add(1)
					outcome, err := soakRequest(ctx, c, rng, wantNN)
					if err != nil {
						fail("client %d: %v", i, err)
					}
					count(outcome)
				}
				if rng.IntN(4) == 0 {
					c.drop() // a crashed tab
				} else {
					c.close()
				}
			}
		}()
	}
	wg.Wait()

	var summary []string
	answered.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(summary)
	t.Logf("%d requests from %d pages in %v: %v", sent.Load(), b.clients, time.Since(start).Round(time.Millisecond), summary)
	for _, f := range failures {
		t.Error(f)
	}
	s.checkTries(beid.MaxPINTries)
	s.checkServing()

	s.stop()
	checkResources(t, baseG, baseFD, baseHeap)
}

// soakRequest sends one request of a random kind and checks its answer. It
// returns the outcome: the method and "ok" or the error code.
func soakRequest(ctx context.Context, c *client, rng *rand.Rand, wantNN string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	kinds := []string{"version", "readers", "card", "identity", "address", "photo", "bad-json", "unknown", "cancel"}
	kind := kinds[rng.IntN(len(kinds))]
	outcome := func(err error) string {
		if err == nil {
			return kind + " ok"
		}
		if code := codeOf(err); code != "" {
			return kind + " " + string(code)
		}
		return kind + " failed"
	}
	// Any request may be refused by the per-connection rate limit.
	allowed := func(err error, codes ...bridge.Code) error {
		if err == nil && len(codes) == 0 {
			return nil
		}
		code := codeOf(err)
		if code == bridge.CodeRateLimited || slices.Contains(codes, code) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("%s: answered with a result, want %v", kind, codes)
		}
		return fmt.Errorf("%s: %w", kind, err)
	}
	switch kind {
	case "bad-json":
		_, err := c.sendRawAwait(ctx, []byte(`{"id": 1, "method": "version"`))
		return outcome(err), allowed(err, bridge.CodeBadRequest)
	case "unknown":
		_, err := c.call(ctx, "card.selfDestruct", nil)
		return outcome(err), allowed(err, bridge.CodeUnknownMethod)
	case "cancel":
		id, answer, err := c.send("photo", nil)
		if err != nil {
			return "cancel failed", err
		}
		var res struct {
			Cancelled bool `json:"cancelled"`
		}
		cerr := c.callInto(ctx, "cancel", map[string]any{"id": json.Number(id)}, &res)
		_, perr := c.await(ctx, answer)
		if err := allowed(cerr); err != nil {
			return outcome(cerr), err
		}
		// The photo was cancelled, or had finished before the cancel.
		if err := allowed(perr, bridge.CodeCancelled); err != nil {
			return outcome(perr), err
		}
		// A photo that finished just as the cancel arrived may still
		// be answered, but one the cancel did not find was not
		// cancelled.
		if !res.Cancelled && codeOf(perr) == bridge.CodeCancelled {
			return outcome(perr), fmt.Errorf("cancel found nothing to cancel, but the photo was cancelled")
		}
		return outcome(perr), nil
	case "identity":
		var id identityResult
		err := c.callInto(ctx, "identity", nil, &id)
		if err == nil && (id.Identity.NationalNumber != wantNN || !id.Integrity.Valid) {
			return outcome(err), fmt.Errorf("identity: wrong answer %+v", id)
		}
		return outcome(err), allowed(err)
	default:
		_, err := c.call(ctx, kind, nil)
		return outcome(err), allowed(err)
	}
}

// sendRawAwait sends a frame that carries no usable id and waits for the
// answer, which carries id null. Only one such frame may be in flight per
// client.
func (c *client) sendRawAwait(ctx context.Context, b []byte) (json.RawMessage, error) {
	ch := make(chan frame, 1)
	c.mu.Lock()
	c.waiters["null"] = ch
	c.mu.Unlock()
	if err := c.sendRaw(b); err != nil {
		return nil, err
	}
	return c.await(ctx, ch)
}

// snapshotResources returns the goroutines, open file descriptors and heap
// in use, after a garbage collection.
func snapshotResources(t *testing.T) (goroutines, fds int, heap uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), countFDs(t), ms.HeapInuse
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting file descriptors: %v", err)
	}
	return len(ents)
}

// checkResources waits, for a bounded time, for the goroutines and file
// descriptors to come back to the baseline, and checks the heap.
func checkResources(t *testing.T, baseG, baseFD int, baseHeap uint64) {
	t.Helper()
	const (
		slackG     = 2        // runtime and test framework goroutines that come and go
		slackFD    = 0        // every socket and PC/SC handle must be closed
		heapGrowth = 32 << 20 // the sim card and PKI are in the baseline
	)
	deadline := time.Now().Add(10 * time.Second)
	var g, fds int
	var heap uint64
	for {
		g, fds, heap = snapshotResources(t)
		if (g <= baseG+slackG && fds <= baseFD+slackFD) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("after shutdown: goroutines %d (baseline %d), file descriptors %d (baseline %d), heap in use %.1f MB (baseline %.1f MB)",
		g, baseG, fds, baseFD, float64(heap)/(1<<20), float64(baseHeap)/(1<<20))
	if g > baseG+slackG {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d goroutines after shutdown, baseline %d\n%s", g, baseG, buf)
	}
	if fds > baseFD+slackFD {
		t.Errorf("file descriptor leak: %d open after shutdown, baseline %d", fds, baseFD)
	}
	if heap > baseHeap+heapGrowth {
		t.Errorf("heap in use grew from %.1f MB to %.1f MB", float64(baseHeap)/(1<<20), float64(heap)/(1<<20))
	}
}
