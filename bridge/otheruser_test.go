package bridge_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/internal/otheruser"
)

// TestOtherUserRefused reproduces issue 9's attack: another OS user
// (nobody) on the machine sends a handshake with an origin the user
// allowed. It is refused with 403 before any method, while the daemon
// user's own client is served; the refusal is logged, without any dialog.
func TestOtherUserRefused(t *testing.T) {
	bin := otheruser.Client(t)
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))
	if out := otheruser.Run(t, bin, "uid"); strings.TrimSpace(out) == "uid: 0" {
		t.Fatalf("the client did not change user: %q", out)
	}

	out := otheruser.Run(t, bin, "ws", addr, testOrigin)
	if strings.TrimSpace(out) != "status: 403" {
		t.Fatalf("another user's handshake: %q, want status: 403", out)
	}
	if !strings.Contains(e.logs.String(), "refused: connection from another OS user") {
		t.Errorf("refusal not logged:\n%s", e.logs)
	}
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("another user's handshake reached the dialogs: %+v", calls)
	}

	// The daemon user's own client, with the same origin, is served.
	c := e.dial(testOrigin)
	defer c.close()
	var id struct {
		Identity map[string]any `json:"identity"`
	}
	c.ok("identity", nil, &id)
	if id.Identity["cardNumber"] == nil {
		t.Fatalf("identity for the daemon's user: %v", id)
	}
}
