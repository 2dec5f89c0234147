package resilience

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/internal/rig"
)

// EnvRigRestart set to 1 lets TestServiceRestart stop and start the
// machine's pcscd. Other test processes would see the service vanish, so
// scripts/test.sh sets it in a step of its own, after everything else.
const EnvRigRestart = "CARDBRIDGE_RIG_RESTART"

// TestServiceRestart stops pcscd under a running daemon, in the middle of a
// card read, and starts it again. The page with the read in flight gets
// NO_SERVICE; subscribed pages get a readers event with error NO_SERVICE;
// methods answer NO_SERVICE while the service is gone; and when it is back
// the daemon recovers by itself: a readers event lists the card again and
// the same connection, and new ones, read it. No daemon restart.
func TestServiceRestart(t *testing.T) {
	if os.Getenv(EnvRigRestart) != "1" {
		t.Skipf("set %s=1 to let this test restart pcscd", EnvRigRestart)
	}
	s := newStack(t, stackOptions{latency: 5 * time.Millisecond})
	ctx := testContext(t)
	c := s.dial(testOrigin)
	defer c.close()
	subscribe(ctx, t, c)
	reader := s.dial(testOrigin)
	defer reader.close()

	reached := make(chan struct{})
	s.fc.at(nth(insReadBinary, 3, false), func() { close(reached) })
	_, inFlight, err := reader.send("photo", nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("photo read never started")
	}
	// Whatever happens next, pcscd must be back for the rest of the
	// machine (start is a no-op when it runs); cleanups run last first,
	// so this one comes before the rig slot's.
	t.Cleanup(func() { rigScript(t, "start") })
	rigScript(t, "stop")

	_, err = reader.await(ctx, inFlight)
	wantCode(t, "photo in flight when pcscd stopped", err, bridge.CodeNoService)
	ev, err := c.readersEvent(ctx, func(r readersResult) bool { return r.Error != nil })
	if err != nil {
		t.Fatalf("no readers event when pcscd stopped: %v", err)
	}
	if ev.Error.Code != bridge.CodeNoService || len(ev.Readers) != 0 {
		t.Fatalf("readers event when pcscd stopped = %+v, want no readers and error NO_SERVICE", ev)
	}
	for _, m := range []string{"readers", "identity", "card"} {
		_, err := c.call(ctx, m, nil)
		wantCode(t, m+" without pcscd", err, bridge.CodeNoService)
	}
	fresh := s.dial(testOrigin)
	_, err = fresh.call(ctx, "identity", nil)
	wantCode(t, "identity on a new connection without pcscd", err, bridge.CodeNoService)
	fresh.close()

	rigScript(t, "start")
	// The card's connection to vpcd died with pcscd; put it back.
	s.slot.Remove()
	s.slot.Reinsert()
	back := time.Now()
	if _, err := c.readersEvent(ctx, func(r readersResult) bool { return r.Error == nil && r.hasCard(rig.Reader) }); err != nil {
		t.Fatalf("no readers event with the card after pcscd came back: %v", err)
	}
	// The watcher retries with a backoff of at most 5 s.
	if d := time.Since(back); d > 7*time.Second {
		t.Errorf("the daemon took %v to see the card after pcscd came back", d)
	}
	var id identityResult
	if err := c.callInto(ctx, "identity", nil, &id); err != nil || !id.Integrity.Valid {
		t.Fatalf("identity on the same connection after pcscd came back: %+v, %v", id, err)
	}
	if _, err := reader.call(ctx, "photo", nil); err != nil {
		t.Fatalf("photo after pcscd came back: %v", err)
	}
	s.checkTries(beid.MaxPINTries)
	s.checkServing()
}

// rigScript runs scripts/rig.sh (tests run in the package directory).
func rigScript(t *testing.T, arg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../../scripts/rig.sh", arg).CombinedOutput()
	if err != nil && arg == "start" {
		// Someone else (a developer's scripts/run.sh, say) may have
		// started pcscd in the moment it was down: it is back either way.
		if st, serr := exec.CommandContext(ctx, "../../scripts/rig.sh", "status").CombinedOutput(); serr == nil {
			t.Logf("rig.sh start: %v (%s), but pcscd is up: %s", err, out, st)
			return
		}
	}
	if err != nil {
		t.Fatalf("rig.sh %s: %v\n%s", arg, err, out)
	}
}
