package bridge

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// watchHub runs the server's single reader watcher and fans its changes out
// to the connections that asked for them with a successful "readers" call.
// The watcher runs only while someone listens, so that an idle daemon does
// not keep the smart card service busy.
type watchHub struct {
	core *Core

	mu      sync.Mutex
	subs    map[*session]struct{}
	current []ReaderInfo // last state the watcher saw or was given
	// live: the watcher runs and its last look at the readers succeeded,
	// so current is what the smart card service reports, give or take the
	// moment a change takes to reach the watcher.
	live bool
	stop context.CancelFunc
}

func newWatchHub(core *Core) *watchHub {
	return &watchHub{core: core, subs: make(map[*session]struct{})}
}

// subscribe adds c, which has just been told listed. When the watcher knows
// a newer state than listed, c gets it at once, so that no change falls
// between the "readers" answer and the subscription.
func (h *watchHub) subscribe(c *session, listed []ReaderInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.ctx.Err() != nil {
		return // the page is gone; it would never be unsubscribed
	}
	// The "readers" call checked consent before it listed, and subscribes
	// only after its answer is written: a revocation in between (the
	// tray's, or another instance's) must end the session here, as
	// broadcast would, not let the catch-up event below reach the site.
	if c.checkConsent() != nil {
		go c.end("consent revoked")
		return
	}
	if _, ok := h.subs[c]; ok {
		if !EqualReaders(h.current, listed) {
			c.sendEvent(readersEvent(h.current, nil))
		}
		return
	}
	h.subs[c] = struct{}{}
	if h.stop == nil {
		ctx, cancel := context.WithCancel(h.core.baseCtx)
		h.stop = cancel
		h.current = listed
		h.live = true
		go h.run(ctx, listed)
		return
	}
	if !EqualReaders(h.current, listed) {
		c.sendEvent(readersEvent(h.current, nil))
	}
}

func (h *watchHub) unsubscribe(c *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, c)
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		h.stop = nil
		h.current = nil
		h.live = false
	}
}

// readers returns the watcher's current state, when it watches and its
// last look succeeded; ok is false otherwise. The list is shared: callers
// must not modify it.
func (h *watchHub) readers() (list []ReaderInfo, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.current, h.live
}

// run watches until ctx is done. Errors (the smart card service stopped)
// are told to the subscribers once, then the list is polled with backoff
// until it can be read again.
func (h *watchHub) run(ctx context.Context, known []ReaderInfo) {
	const minBackoff, maxBackoff = 250 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	failing := false
	for {
		var list []ReaderInfo
		var err error
		if failing {
			list, err = h.core.cfg.Readers.List(ctx)
		} else {
			list, err = h.core.cfg.Readers.Watch(ctx, known)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !failing {
				failing = true
				h.broadcast(ctx, nil, toError(ctx, err))
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		if failing || !EqualReaders(list, known) {
			// A card that left takes its files with it. (A swap the
			// watcher missed is caught by the insertion mark.)
			h.core.cards.retain(list)
			h.broadcast(ctx, list, nil)
		}
		failing = false
		backoff = minBackoff
		known = list
	}
}

func (h *watchHub) broadcast(ctx context.Context, list []ReaderInfo, e *Error) {
	b := readersEvent(list, e)
	h.mu.Lock()
	defer h.mu.Unlock()
	if ctx.Err() != nil {
		return // a newer watcher may own h.current now
	}
	h.current = list
	h.live = e == nil
	for c := range h.subs {
		// A site whose consent was withdrawn since it subscribed (the
		// tray, or another instance's) hears nothing more: its session
		// ends.
		if c.checkConsent() != nil {
			delete(h.subs, c)
			go c.end("consent revoked")
			continue
		}
		c.sendEvent(b)
	}
}

func readersEvent(list []ReaderInfo, e *Error) []byte {
	data := map[string]any{"readers": readersJSON(list)}
	if e != nil {
		data["error"] = wireError{Code: e.Code, Message: e.Message}
	}
	b, _ := json.Marshal(event{Event: "readers", Data: data})
	return b
}
