package bridge_test

// A card or reader that stops answering in the middle of an exchange: the
// page must get its TIMEOUT or CANCELLED at once, the reader must stay
// locked until the card answers, and nothing that spends a PIN try or uses
// a key may reach the card after the page was answered.

import (
	"context"
	"encoding/base64"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
)

// Instructions the stalls look for.
const (
	insVerify      = 0x20
	insMSE         = 0x22
	insReadBinary  = 0xB0
	insGetCardData = 0xE4
	insLogOff      = 0xE6
	insPSO         = 0x2A
)

// stall makes one command hang in the reader until released, whatever its
// context says, as the exchange of a wedged reader does. It also records
// the instruction of every command the readers see.
type stall struct {
	reached chan struct{} // closed when the command arrives
	release chan struct{}
	once    sync.Once

	mu   sync.Mutex
	seen []byte
}

// stallAt stalls the n-th command (from 1, counted from now) that match
// accepts.
func stallAt(e *env, n int, match func(cmd []byte) bool) *stall {
	st := &stall{reached: make(chan struct{}), release: make(chan struct{})}
	count := 0
	e.readers.SetCommandHook(func(cmd []byte) {
		st.mu.Lock()
		st.seen = append(st.seen, cmd[1])
		hit := false
		if match(cmd) {
			count++
			hit = count == n
		}
		st.mu.Unlock()
		if hit {
			close(st.reached)
			<-st.release
		}
	})
	e.t.Cleanup(st.free) // never leave a goroutine hanging in the hook
	return st
}

// ins matches commands with instruction b; withData only those that carry
// data (a VERIFY with data presents a PIN).
func ins(b byte, withData bool) func([]byte) bool {
	return func(cmd []byte) bool { return len(cmd) >= 4 && cmd[1] == b && (!withData || len(cmd) > 5) }
}

// getCardData matches GET CARD DATA in its plain form (P2=00), which each
// card session of a PIN method sends first; the tries-left form has P2=01.
func getCardData(cmd []byte) bool { return len(cmd) >= 4 && cmd[1] == insGetCardData && cmd[3] == 0 }

// waitReached waits until the stalled command arrives; the request must not
// have been answered before.
func (st *stall) waitReached(t *testing.T, c *client, id string) {
	t.Helper()
	select {
	case <-st.reached:
	case <-time.After(10 * time.Second):
		if c.answered(id) {
			t.Fatalf("request %s was answered before it reached the stalled command", id)
		}
		t.Fatal("the stalled command never arrived")
	}
}

func (st *stall) free() { st.once.Do(func() { close(st.release) }) }

// sawAfter reports whether a command with instruction b was seen after the
// first one with instruction first.
func (st *stall) sawAfter(first, b byte) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := slices.Index(st.seen, first)
	return i >= 0 && slices.Contains(st.seen[i+1:], b)
}

// commands returns the instructions seen so far.
func (st *stall) commands() []byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.seen)
}

// answered reports, without waiting, whether the response to id arrived.
func (c *client) answered(id string) bool {
	for {
		select {
		case m := <-c.frames:
			c.mu.Lock()
			c.backlog = append(c.backlog, m)
			c.mu.Unlock()
			continue
		default:
		}
		break
	}
	want := `"` + id + `"`
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.backlog, func(m msg) bool { return m.Event == "" && string(m.ID) == want })
}

// goroutinesSettle waits until no more goroutines run than before: card
// work that outlived its request ended once the card answered.
func goroutinesSettle(t *testing.T, before int) {
	t.Helper()
	eventually(t, "the card work's goroutines end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestHungCardRead: a read whose card hangs is answered TIMEOUT at its
// deadline, or CANCELLED at the page's cancel, while the card still hangs.
// The next request for the reader waits for the card instead of sending
// commands to it meanwhile, and the card work ends once the card answers.
func TestHungCardRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits bridge.Limits
		end    func(c *client, id string) // ends the request, if the deadline does not
		want   string
	}{
		{"deadline", bridge.Limits{RequestTimeout: time.Second}, func(*client, string) {}, "TIMEOUT"},
		{"cancel", bridge.Limits{}, func(c *client, id string) { c.ok("cancel", map[string]string{"id": id}, nil) }, "CANCELLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newEnv(t, sim.ProfileECC, preConsented, withLimits(tc.limits))
			c := e.dial(testOrigin)
			before := runtime.NumGoroutine()

			// The identity file takes two READ BINARY (6Cxx, then the
			// exact length); the third is in its signature file.
			st := stallAt(e, 3, ins(insReadBinary, false))
			id := c.send("identity", nil)
			st.waitReached(t, c, id)
			tc.end(c, id)
			if m := c.response(id); m.code() != tc.want {
				t.Fatalf("identity with the card hanging: %s, want %s", m.raw, tc.want)
			}
			// Answered; the card still hangs. The page's next request
			// for the reader must wait for the card: if it got in, the
			// simulated reader's exclusive session would answer BUSY.
			opens := e.readers.Opens()
			next := c.send("card", nil)
			time.Sleep(50 * time.Millisecond) // a chance for a wrong answer to show up
			if c.answered(next) {
				t.Fatalf("card answered while the previous request's card work held the reader: %s", c.response(next).raw)
			}
			if n := e.readers.Opens(); n != opens {
				t.Fatalf("%d sessions opened while the card hung", n-opens)
			}
			st.free()
			if m := c.response(next); m.Error != nil {
				t.Fatalf("card after the card answered: %s", m.raw)
			}
			goroutinesSettle(t, before)
		})
	}
}

// TestHungCardNextRequestTimesOut: a request waiting for a reader whose
// card hangs under an earlier, answered request times out by itself.
func TestHungCardNextRequestTimesOut(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented, withLimits(bridge.Limits{RequestTimeout: 300 * time.Millisecond}))
	c := e.dial(testOrigin)
	before := runtime.NumGoroutine()
	st := stallAt(e, 1, ins(insReadBinary, false))
	first := c.send("photo", nil)
	st.waitReached(t, c, first)
	if m := c.response(first); m.code() != "TIMEOUT" {
		t.Fatalf("photo: %s, want TIMEOUT", m.raw)
	}
	if m := c.call("address", nil); m.code() != "TIMEOUT" {
		t.Fatalf("address behind the hung card: %s, want TIMEOUT", m.raw)
	}
	st.free()
	e.readers.SetCommandHook(nil)
	c.ok("address", nil, nil)
	goroutinesSettle(t, before)
}

// TestHungCardNoPINAfterAnswer hangs the card just before the PIN would be
// presented, ends the request (deadline or cancel), then lets the card
// answer: the card work that resumes must send neither the PIN nor a
// signature, since the page was told the request ended.
func TestHungCardNoPINAfterAnswer(t *testing.T) {
	sha256 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, pr := range profiles {
		for _, m := range []struct {
			method string
			params any
			script func(p *bridgetest.Prompter)
			// stall is the command before VERIFY: the card check of
			// pin.verify's second session (the first session's GET CARD
			// DATA reads the tries left), the MSE SET of signatures.
			// The card check is a GET CARD DATA only where sessions
			// cannot tell insertions apart (elsewhere the card cache
			// knows the card): the test hides them.
			n     int
			stall func([]byte) bool
		}{
			{"pin.verify", nil, func(p *bridgetest.Prompter) { p.EnterPIN(testPIN) }, 2, getCardData},
			{"authenticate", map[string]string{"challengeNonce": nonce()}, func(p *bridgetest.Prompter) { p.EnterPIN(testPIN) }, 1, ins(insMSE, false)},
			{"sign", map[string]string{"digest": sha256, "hashAlgorithm": "SHA-256"}, func(p *bridgetest.Prompter) {
				p.Confirm(bridgetest.ConfirmSignature, true)
				p.EnterPIN(testPIN)
			}, 1, ins(insMSE, false)},
		} {
			for _, end := range []struct {
				name   string
				limits bridge.Limits
				end    func(c *client, id string)
				want   string
			}{
				{"deadline", bridge.Limits{PromptTimeout: time.Second}, func(*client, string) {}, "TIMEOUT"},
				{"cancel", bridge.Limits{}, func(c *client, id string) { c.ok("cancel", map[string]string{"id": id}, nil) }, "CANCELLED"},
			} {
				t.Run(pr.name+"/"+m.method+"/"+end.name, func(t *testing.T) {
					e, card := newEnv(t, pr.p, preConsented, withLimits(end.limits))
					e.readers.HideInsertions(m.method == "pin.verify")
					c := e.dial(testOrigin)
					before := runtime.NumGoroutine()
					m.script(e.prompter)
					st := stallAt(e, m.n, m.stall)
					id := c.send(m.method, m.params)
					st.waitReached(t, c, id)
					end.end(c, id)
					if r := c.response(id); r.code() != end.want {
						t.Fatalf("%s with the card hanging: %s, want %s", m.method, r.raw, end.want)
					}
					st.free()
					c.ok("card", nil, nil) // the reader is free: the card work ended
					if card.TriesLeft() != 3 || e.readers.PINVerifies() != 0 || e.readers.Signatures() != 0 {
						t.Errorf("after the answer: tries %d, PIN VERIFYs %d, signatures %d",
							card.TriesLeft(), e.readers.PINVerifies(), e.readers.Signatures())
					}
					goroutinesSettle(t, before)
				})
			}
		}
	}
}

// TestHungCardSensitiveInFlight cancels a request while a command that
// spends a PIN try or uses a key is in flight: the card's VERIFY, the
// pinpad's PIN entry or the signature, none of which can be interrupted.
// The page's answer waits until that command is done, so it never precedes
// it; the commands after it that need the request (the signature after
// the VERIFY) are not sent, and the card is logged off.
func TestHungCardSensitiveInFlight(t *testing.T) {
	sha256 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	signParams := map[string]string{"digest": sha256, "hashAlgorithm": "SHA-256"}
	for _, tc := range []struct {
		name   string
		method string
		params any
		pinpad bool
		stall  func([]byte) bool // nil: the pinpad entry stalls
		// signatures made: one when the stalled command is the
		// signature itself, which was sent before the answer.
		signatures int
	}{
		{"sign at VERIFY", "sign", signParams, false, ins(insVerify, true), 0},
		{"authenticate at VERIFY", "authenticate", map[string]string{"challengeNonce": nonce()}, false, ins(insVerify, true), 0},
		{"sign at pinpad entry", "sign", signParams, true, nil, 0},
		{"sign at PSO", "sign", signParams, false, ins(insPSO, false), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, card := newEnv(t, sim.ProfileECC, preConsented)
			c := e.dial(testOrigin)
			before := runtime.NumGoroutine()
			if tc.method == "sign" {
				e.prompter.Confirm(bridgetest.ConfirmSignature, true)
			}
			var st *stall
			if tc.pinpad {
				// The user types on the keypad; the entry ignores the
				// request's context, as a reader's does.
				st = stallAt(e, 1, func([]byte) bool { return false })
				e.readers.SetPinpad(reader0, func(context.Context) ([]byte, error) {
					close(st.reached)
					<-st.release
					return []byte(testPIN), nil
				})
			} else {
				e.prompter.EnterPIN(testPIN)
				st = stallAt(e, 1, tc.stall)
			}
			id := c.send(tc.method, tc.params)
			st.waitReached(t, c, id)
			c.ok("cancel", map[string]string{"id": id}, nil)
			time.Sleep(50 * time.Millisecond) // a chance for a premature answer to show up
			if c.answered(id) {
				t.Fatalf("%s answered while a sensitive command was in flight: %s", tc.method, c.response(id).raw)
			}
			st.free()
			if m := c.response(id); m.code() != "CANCELLED" {
				t.Fatalf("%s: %s, want CANCELLED", tc.method, m.raw)
			}
			c.ok("card", nil, nil) // the reader is free: the card work ended
			if e.readers.PINVerifies() != 1 || e.readers.Signatures() != tc.signatures || card.TriesLeft() != 3 {
				t.Errorf("PIN VERIFYs %d (want the one sent before the answer), signatures %d (want %d), tries %d",
					e.readers.PINVerifies(), e.readers.Signatures(), tc.signatures, card.TriesLeft())
			}
			if !st.sawAfter(insVerify, insLogOff) {
				t.Errorf("instructions sent: %X, want LOG OFF after the VERIFY", st.commands())
			}
			if tc.signatures == 0 && st.sawAfter(insVerify, insPSO) {
				t.Errorf("instructions sent: %X, want no PSO after the VERIFY", st.commands())
			}
			goroutinesSettle(t, before)
		})
	}
}
