package bridge_test

import (
	"encoding/json"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
)

// TestResolveFromWatcherState: while a page is subscribed to reader
// events, card requests find their reader in the watcher's state instead
// of listing the readers each time; without a watcher, with a watcher
// whose state lacks what the request needs, or after the service failed,
// they list.
func TestResolveFromWatcherState(t *testing.T) {
	named := func(r string) map[string]string { return map[string]string{"reader": r} }
	for _, tc := range []struct {
		name      string
		subscribe bool
		// setup changes the readers; with hold, the watcher is not told.
		hold  bool
		setup func(t *testing.T, e *env)
		// the request, its expected error code ("" for success), and
		// whether it had to list the readers.
		method string
		params any
		code   string
		lists  bool
	}{
		{name: "no watcher", method: "identity", lists: true},
		{name: "no watcher, named", method: "card", params: named(reader0), lists: true},
		{name: "watcher", subscribe: true, method: "identity"},
		{name: "watcher, named", subscribe: true, method: "card", params: named(reader0)},
		{name: "watcher, named empty reader", subscribe: true, method: "card", params: named(reader1), code: "NO_CARD", lists: true},
		{name: "watcher, named unknown reader", subscribe: true, method: "card", params: named("No Such Reader"), code: "NO_READER", lists: true},
		{
			name: "stale: reader not yet in the watcher's state", subscribe: true, hold: true,
			setup: func(t *testing.T, e *env) {
				e.readers.AddReader("Late Reader")
				if err := e.readers.Insert("Late Reader", newCard(t, sim.ProfileECC)); err != nil {
					t.Fatal(err)
				}
			},
			method: "identity", params: named("Late Reader"), lists: true,
		},
		{
			name: "stale: card not yet in the watcher's state", subscribe: true, hold: true,
			setup: func(t *testing.T, e *env) {
				if err := e.readers.Insert(reader1, newCard(t, sim.ProfileRSA)); err != nil {
					t.Fatal(err)
				}
			},
			method: "card", params: named(reader1), lists: true,
		},
		{
			// The card session is the authority: a card pulled since the
			// watcher looked is NO_CARD, as it would be a moment after a
			// listing.
			name: "stale: card gone since", subscribe: true, hold: true,
			setup:  func(t *testing.T, e *env) { e.readers.Remove(reader0) },
			method: "identity", code: "NO_CARD",
		},
		{
			// Only a listing says AMBIGUOUS_READER.
			name: "watcher, two cards", subscribe: true,
			setup: func(t *testing.T, e *env) {
				if err := e.readers.Insert(reader1, newCard(t, sim.ProfileECC)); err != nil {
					t.Fatal(err)
				}
			},
			method: "photo", code: "AMBIGUOUS_READER", lists: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newEnv(t, sim.ProfileECC, preConsented)
			c := e.dial(testOrigin)
			if tc.subscribe {
				c.ok("readers", nil, nil)
				// The subscription follows the answer.
				eventually(t, "the watcher runs", func() bool { return e.readers.Watchers() == 1 })
			}
			if tc.hold {
				e.readers.HoldEvents(true)
			}
			if tc.setup != nil {
				tc.setup(t, e)
				if tc.subscribe && !tc.hold {
					c.event("readers") // the watcher has the change
				}
			}
			before := e.readers.Lists()
			m := c.call(tc.method, tc.params)
			if m.code() != tc.code {
				t.Fatalf("%s: %s, want code %q", tc.method, m.raw, tc.code)
			}
			if listed := e.readers.Lists() != before; listed != tc.lists {
				t.Errorf("%s listed the readers: %v, want %v", tc.method, listed, tc.lists)
			}
		})
	}
}

// TestResolveAfterServiceLoss: once the watcher has seen the smart card
// service fail, requests list the readers (and learn NO_SERVICE) rather
// than trust the state from before; once it is back, they are served.
func TestResolveAfterServiceLoss(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	c.ok("readers", nil, nil)
	c.ok("identity", nil, nil)

	type evData struct {
		Readers []json.RawMessage `json:"readers"`
		Error   *struct{ Code string }
	}
	waitEvent := func(failed bool) {
		t.Helper()
		for {
			var d evData
			if err := json.Unmarshal(c.event("readers").Data, &d); err != nil {
				t.Fatal(err)
			}
			if (d.Error != nil) == failed {
				return
			}
		}
	}
	e.readers.SetServiceError(bridge.ErrNoService)
	waitEvent(true)
	c.fails("identity", nil, "NO_SERVICE")
	e.readers.SetServiceError(nil)
	waitEvent(false)
	c.ok("identity", nil, nil)
}
