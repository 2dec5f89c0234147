//go:build linux

package prompt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/cardbridge/cardbridge/bridge"
)

// ttyUser is the person at a pseudo-terminal: what they type goes to the
// terminal's input, and they see what the terminal shows, echo included.
type ttyUser struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	screen bytes.Buffer
}

func newTTY(t *testing.T) (*ttyUser, *os.File) {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	u := &ttyUser{t: t, master: master}
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			u.mu.Lock()
			u.screen.Write(buf[:n])
			u.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); master.Close() })
	return u, tty
}

func (u *ttyUser) seen() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.screen.String()
}

// waitFor waits until the screen shows s, and returns what it showed.
func (u *ttyUser) waitFor(s string) string {
	u.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := u.seen(); strings.Contains(got, s) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	u.t.Fatalf("terminal never showed %q; it shows %q", s, u.seen())
	return ""
}

func (u *ttyUser) typeLine(s string) {
	u.t.Helper()
	if _, err := u.master.Write([]byte(s + "\n")); err != nil {
		u.t.Fatal(err)
	}
}

// TestTerminalClosedPromptDoesNotEatPIN is issue 10 item 8: a consent
// question closed by its page (echo on) must not leave a read that takes
// the line the user types for the next prompt, the PIN, and echoes it.
func TestTerminalClosedPromptDoesNotEatPIN(t *testing.T) {
	u, tty := newTTY(t)
	p, err := NewTerminal(tty, tty)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	consent := async(func() (bridge.ConsentDecision, error) {
		return p.Consent(ctx, bridge.ConsentRequest{Origin: "https://a.example"})
	})
	u.waitFor("Allow")
	cancel() // the page went away
	if _, err := awaitWithin(t, 5*time.Second, consent); err == nil {
		t.Fatal("closed consent prompt answered")
	}

	pin := async(func() ([]byte, error) {
		return p.PIN(context.Background(), bridge.PINRequest{Origin: "https://b.example", Purpose: bridge.PurposeAuthenticate, TriesLeft: 3})
	})
	before := len(u.waitFor("PIN"))
	time.Sleep(100 * time.Millisecond) // let a stale read, if any, take its place
	u.typeLine("4711")
	got, err := awaitWithin(t, 5*time.Second, pin)
	if err != nil || string(got) != "4711" {
		t.Errorf("PIN prompt got %q, %v; want the typed PIN", got, err)
	}
	time.Sleep(100 * time.Millisecond)
	if after := u.seen()[before:]; strings.Contains(after, "4711") {
		t.Errorf("the PIN was echoed on the terminal: %q", after)
	}
}

// TestTerminalTypeAheadIsFlushed: what was typed before a question was
// shown (for a closed prompt, or by a cat on the keyboard) must not answer
// it, nor become a PIN.
func TestTerminalTypeAheadIsFlushed(t *testing.T) {
	u, tty := newTTY(t)
	p, err := NewTerminal(tty, tty)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.typeLine("y")
	u.waitFor("y\r\n") // echoed: the line is in the terminal's input
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	ok, err := p.ConfirmSignature(ctx, bridge.SignatureRequest{Origin: "https://sign.example", HashAlgorithm: "SHA-256", DigestHex: "00"})
	if ok {
		t.Fatal("a line typed before the question was shown signed")
	}
	if err == nil {
		t.Errorf("no answer, yet no error")
	}

	u.typeLine("9999")
	u.waitFor("9999\r\n")
	pin := async(func() ([]byte, error) {
		return p.PIN(context.Background(), bridge.PINRequest{Origin: "https://sign.example", Purpose: bridge.PurposeSign})
	})
	u.waitFor("PIN")
	time.Sleep(100 * time.Millisecond)
	u.typeLine("1234")
	if got, err := awaitWithin(t, 5*time.Second, pin); err != nil || string(got) != "1234" {
		t.Errorf("PIN = %q, %v; want the line typed after the prompt", got, err)
	}
}

// TestTerminalAnswers checks the answers and that nothing a page chose
// reaches the terminal as control sequences.
func TestTerminalAnswers(t *testing.T) {
	u, tty := newTTY(t)
	p, err := NewTerminal(tty, tty)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, tt := range []struct {
		line string
		want bridge.ConsentDecision
	}{{"o", bridge.AllowOnce}, {"always", bridge.AllowAlways}, {"", bridge.Deny}, {"yes", bridge.Deny}} {
		ch := async(func() (bridge.ConsentDecision, error) {
			return p.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://a.example"})
		})
		n := strings.Count(u.seen(), "Allow [o]nce")
		for strings.Count(u.waitFor("Allow [o]nce"), "Allow [o]nce") == n {
			time.Sleep(10 * time.Millisecond)
		}
		u.typeLine(tt.line)
		if d, err := awaitWithin(t, 5*time.Second, ch); d != tt.want || err != nil {
			t.Errorf("%q: %v, %v; want %v", tt.line, d, err, tt.want)
		}
	}
	ch := async(func() (bool, error) {
		return p.ConfirmSignature(context.Background(), bridge.SignatureRequest{Origin: "https://sign.example",
			DocumentName: "x\x1b[2J\u202econtract", HashAlgorithm: "SHA-256", DigestHex: "ab"})
	})
	u.waitFor("Sign?")
	u.typeLine("y")
	if ok, err := awaitWithin(t, 5*time.Second, ch); !ok || err != nil {
		t.Errorf("yes to sign: %v, %v", ok, err)
	}
	if s := u.seen(); strings.Contains(s, "\x1b") || strings.Contains(s, "\u202e") {
		t.Errorf("control characters from the page reached the terminal: %q", s)
	}
	// End of input cancels.
	u.master.Close()
	if _, err := p.PIN(context.Background(), bridge.PINRequest{Origin: "https://a.example"}); !errors.Is(err, bridge.ErrPromptCancelled) {
		t.Errorf("PIN after the terminal closed: %v", err)
	}
}
