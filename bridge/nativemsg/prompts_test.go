package nativemsg_test

import (
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

// TestHostPromptRules: the rules against hostile pages live in the core,
// so they hold for native-messaging sessions as for WebSocket ones
// (issue 10): the consent cooldown covers the whole site, and an
// allow-once session ends when its card leaves.
func TestHostPromptRules(t *testing.T) {
	pr := &bridgetest.Prompter{}
	var readers *simreaders.Readers
	core := newCore(t, pr, true, func(c *bridge.Config) { readers = c.Readers.(*simreaders.Readers) })

	pr.AllowConsent(bridge.Deny)
	pr.AllowConsent(bridge.AllowOnce) // must not be used by evil.example
	for _, o := range []string{"https://a1.evil.example", "https://a2.evil.example"} {
		b := startHost(t, serveWith(core))
		b.send(open(o))
		if m := b.recv(); m["event"] != "refused" {
			t.Fatalf("%s: %v, want refused", o, m)
		}
		b.exit()
	}
	if n := len(pr.Calls()); n != 1 {
		t.Errorf("%d consent dialogs for one site, want 1", n)
	}

	b := startHost(t, serveWith(core))
	b.send(open(testOrigin))
	if m := b.recv(); m["event"] != "hello" {
		t.Fatalf("allow once: %v", m)
	}
	// Pulled at once, before the session's first request: the session
	// is bound to the card present when the user said yes, not to the
	// next one.
	readers.Remove(reader0)
	done := make(chan error, 1)
	go func() {
		for range b.inbox { // events, until the host closes its output
		}
		done <- nil
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("the allow-once session outlived its card")
	}
}
