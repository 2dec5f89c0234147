//go:build linux

package prompt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
)

// The tests in this file drive the real zenity dialogs on an X display
// (Xvfb in CI, see tray/ci.sh) with xdotool, as a user would with the
// keyboard. They skip without DISPLAY, zenity and xdotool, unless
// CARDBRIDGE_DESKTOP=required. With CARDBRIDGE_SCREENSHOTS=dir they save
// a PNG of each dialog there. The X server must not reset when its last
// client leaves (Xvfb -noreset, as tray/ci.sh starts it): a dialog that
// starts during a reset cannot open the display, and zenity's exit reads
// as Cancel.

func needDesktop(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Getenv("DISPLAY") == "" {
		missing = append(missing, "DISPLAY")
	}
	for _, tool := range []string{"zenity", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CARDBRIDGE_DESKTOP") == "required" {
		t.Fatalf("CARDBRIDGE_DESKTOP=required but %v missing", missing)
	}
	t.Skipf("desktop test: %v missing (run tray/ci.sh)", missing)
}

func xdo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("xdotool", args...).Output()
	if err != nil {
		t.Fatalf("xdotool %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// findWindows returns the ids of visible windows whose title matches.
func findWindows(title string) []string {
	out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--name", title).Output()
	return strings.Fields(string(out))
}

// waitWindow waits for the prompt's window titled title. A prompt that
// returns without showing one (zenity failed to start) is reported with
// its outcome at once, instead of after the whole wait.
func waitWindow(t *testing.T, title string, p interface{ returned() (string, bool) }) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ids := findWindows(title); len(ids) > 0 {
			time.Sleep(300 * time.Millisecond) // let GTK finish mapping and drawing
			return ids[0]
		}
		if out, ok := p.returned(); ok {
			t.Fatalf("the prompt returned (%s) without a window titled %q", out, title)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no window titled %q appeared", title)
	return ""
}

func waitGone(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if exec.Command("xdotool", "getwindowname", id).Run() != nil {
			return
		}
		if out, _ := exec.Command("xwininfo", "-id", id).Output(); strings.Contains(string(out), "IsUnMapped") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("window %s still there", id)
}

// keys focuses the window and sends key strokes through XTEST, i.e. as
// real key presses (GTK ignores synthetic XSendEvent input).
func keys(t *testing.T, id string, seq ...string) {
	t.Helper()
	xdo(t, "windowfocus", "--sync", id)
	for _, k := range seq {
		xdo(t, "key", "--clearmodifiers", k)
		time.Sleep(100 * time.Millisecond)
	}
}

func typeText(t *testing.T, id, text string) {
	t.Helper()
	xdo(t, "windowfocus", "--sync", id)
	xdo(t, "type", "--delay", "40", text)
}

func shoot(t *testing.T, id, name string) {
	t.Helper()
	dir := os.Getenv("CARDBRIDGE_SCREENSHOTS")
	if dir == "" {
		return
	}
	os.MkdirAll(dir, 0o755)
	// A border of the root window around the dialog keeps the shot
	// readable on light and dark backgrounds.
	geo := xdo(t, "getwindowgeometry", "--shell", id)
	vals := map[string]string{}
	for _, l := range strings.Split(geo, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			vals[k] = v
		}
	}
	crop := vals["WIDTH"] + "x" + vals["HEIGHT"] + "+" + vals["X"] + "+" + vals["Y"]
	out := filepath.Join(dir, name)
	if b, err := exec.Command("import", "-window", "root", "-crop", crop, "+repage", out).CombinedOutput(); err != nil {
		t.Errorf("screenshot %s: %v %s", name, err, b)
	}
}

type result[T any] struct {
	v   T
	err error
}

// pending is a prompt running in its own goroutine.
type pending[T any] struct {
	ch   chan result[T]
	done chan struct{} // closed when the prompt has returned
	r    result[T]     // valid once done is closed
}

func async[T any](f func() (T, error)) *pending[T] {
	p := &pending[T]{ch: make(chan result[T], 1), done: make(chan struct{})}
	go func() {
		v, err := f()
		p.r = result[T]{v, err}
		close(p.done)
		p.ch <- p.r
	}()
	return p
}

// returned reports the prompt's outcome, once it has returned.
func (p *pending[T]) returned() (string, bool) {
	select {
	case <-p.done:
		return fmt.Sprintf("%v, %v", p.r.v, p.r.err), true
	default:
		return "", false
	}
}

func await[T any](t *testing.T, p *pending[T]) (T, error) {
	t.Helper()
	return awaitWithin(t, 30*time.Second, p)
}

func awaitWithin[T any](t *testing.T, d time.Duration, p *pending[T]) (T, error) {
	t.Helper()
	select {
	case r := <-p.ch:
		return r.v, r.err
	case <-time.After(d):
		t.Fatal("prompt did not return")
	}
	panic("unreachable")
}

func TestDesktopConsent(t *testing.T) {
	needDesktop(t)
	p := New(Options{Language: "en"})
	ctx := context.Background()
	req := bridge.ConsentRequest{Origin: "https://Registration.Smart-ID.example"}
	// Buttons, left to right: extra ("Always allow"), cancel ("Deny",
	// focused by default), OK ("Allow once").
	tests := []struct {
		name string
		keys []string
		want bridge.ConsentDecision
	}{
		{"always", []string{"shift+Tab", "Return"}, bridge.AllowAlways},
		{"once", []string{"Tab", "Return"}, bridge.AllowOnce},
		{"enter-denies", []string{"Return"}, bridge.Deny},
		{"escape-denies", []string{"Escape"}, bridge.Deny},
	}
	for i, tt := range tests {
		ch := async(func() (bridge.ConsentDecision, error) { return p.Consent(ctx, req) })
		id := waitWindow(t, "ID card access", ch)
		if i == 0 {
			shoot(t, id, "consent.png")
		}
		keys(t, id, tt.keys...)
		got, err := await(t, ch)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
		}
		waitGone(t, id)
	}
}

func TestDesktopPIN(t *testing.T) {
	needDesktop(t)
	p := New(Options{Language: "en"})
	ch := async(func() ([]byte, error) {
		return p.PIN(context.Background(), bridge.PINRequest{Origin: "https://registration.smart-id.example", Purpose: bridge.PurposeAuthenticate, TriesLeft: 3})
	})
	// A malformed PIN is refused by the dialog itself and asked again.
	id := waitWindow(t, "PIN code", ch)
	typeText(t, id, "12ab")
	keys(t, id, "Return")
	waitGone(t, id)
	id = waitWindow(t, "PIN code", ch)
	typeText(t, id, "123456")
	shoot(t, id, "pin.png")
	keys(t, id, "Return")
	pin, err := await(t, ch)
	if err != nil || string(pin) != "123456" {
		t.Fatalf("PIN = %q, %v", pin, err)
	}
	waitGone(t, id)

	// Cancel button → cancelled, no PIN.
	ch = async(func() ([]byte, error) {
		return p.PIN(context.Background(), bridge.PINRequest{Origin: "https://a.example", Purpose: bridge.PurposeVerify, TriesLeft: 2})
	})
	id = waitWindow(t, "PIN code", ch)
	keys(t, id, "Escape")
	if pin, err := await(t, ch); !errors.Is(err, bridge.ErrPromptCancelled) || pin != nil {
		t.Errorf("escaped PIN dialog: %q, %v", pin, err)
	}
}

func TestDesktopSignatureAndLastTry(t *testing.T) {
	needDesktop(t)
	p := New(Options{Language: "en"})
	req := bridge.SignatureRequest{Origin: "https://sign.example.be", DocumentName: "Rental agreement 2026.pdf",
		HashAlgorithm: "SHA-384", DigestHex: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a089f86d081884c7d659a2feaa0c55ad015"}
	ch := async(func() (bool, error) { return p.ConfirmSignature(context.Background(), req) })
	id := waitWindow(t, "Confirm signature", ch)
	shoot(t, id, "signature.png")
	keys(t, id, "Return") // the default button is Cancel: Enter never signs
	if ok, err := await(t, ch); ok || err != nil {
		t.Errorf("Enter on the signature dialog: %v, %v", ok, err)
	}
	waitGone(t, id)
	ch = async(func() (bool, error) { return p.ConfirmSignature(context.Background(), req) })
	id = waitWindow(t, "Confirm signature", ch)
	keys(t, id, "Tab", "Return")
	if ok, err := await(t, ch); !ok || err != nil {
		t.Errorf("Sign button: %v, %v", ok, err)
	}
	waitGone(t, id)

	ch = async(func() (bool, error) {
		return p.ConfirmLastTry(context.Background(), bridge.PINRequest{Origin: "https://sign.example.be", TriesLeft: 1})
	})
	id = waitWindow(t, "Last PIN try", ch)
	shoot(t, id, "lasttry.png")
	keys(t, id, "Escape")
	if ok, err := await(t, ch); ok || err != nil {
		t.Errorf("Escape on last-try: %v, %v", ok, err)
	}
}

// TestDesktopCloseOnCancelAndTimeout checks that a dialog disappears when
// the page goes away (ctx cancelled) and when nobody answers in time.
func TestDesktopCloseOnCancelAndTimeout(t *testing.T) {
	needDesktop(t)
	p := New(Options{Language: "nl"})
	ctx, cancel := context.WithCancel(context.Background())
	ch := async(func() ([]byte, error) {
		return p.PIN(ctx, bridge.PINRequest{Origin: "https://a.example", Purpose: bridge.PurposeSign, TriesLeft: 3, DocumentName: "Huurcontract.pdf"})
	})
	id := waitWindow(t, "pincode", ch)
	shoot(t, id, "pin-nl.png")
	cancel()
	if _, err := await(t, ch); !errors.Is(err, bridge.ErrPromptCancelled) {
		t.Errorf("cancelled PIN prompt: %v", err)
	}
	waitGone(t, id)

	p = New(Options{Language: "fr", Timeout: 2 * time.Second})
	start := time.Now()
	chc := async(func() (bridge.ConsentDecision, error) {
		return p.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://a.example"})
	})
	id = waitWindow(t, "accès à la carte", chc)
	shoot(t, id, "consent-fr.png")
	d, err := await(t, chc)
	if !errors.Is(err, bridge.ErrPromptCancelled) || d != bridge.Deny {
		t.Errorf("timed-out consent: %v, %v", d, err)
	}
	if el := time.Since(start); el < 2*time.Second || el > 10*time.Second {
		t.Errorf("timeout after %v", el)
	}
	waitGone(t, id)
}

// TestDesktopPinpadNotice shows the notice a pinpad reader's PIN entry
// gets (issue 10 item 5): no input, the site named, closed when the
// entry ends.
func TestDesktopPinpadNotice(t *testing.T) {
	needDesktop(t)
	p := New(Options{Language: "en"})
	ctx, endEntry := context.WithCancel(context.Background())
	ch := async(func() (struct{}, error) {
		return struct{}{}, p.PinpadNotice(ctx, bridge.PINRequest{Origin: "https://registration.smart-id.com", Purpose: bridge.PurposeAuthenticate, TriesLeft: 3})
	})
	id := waitWindow(t, "PIN on the card reader", ch)
	shoot(t, id, "pinpad-notice.png")
	if name := xdo(t, "getwindowname", id); !strings.Contains(name, "cardbridge") {
		t.Errorf("notice titled %q", name)
	}
	endEntry() // the reader has the PIN
	if _, err := await(t, ch); err != nil {
		t.Errorf("notice: %v", err)
	}
	waitGone(t, id)
}

// TestDesktopBlockThisSite shows the "block this site" choice the
// signature and PIN dialogs offer after repeated refusals (issue 10
// item 3), and that its button blocks.
func TestDesktopBlockThisSite(t *testing.T) {
	needDesktop(t)
	p := New(Options{Language: "en"})
	req := bridge.SignatureRequest{Origin: "https://app.hostile.example", DocumentName: "Contract.pdf", HashAlgorithm: "SHA-256",
		DigestHex: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", OfferBlock: true}
	ch := async(func() (bool, error) { return p.ConfirmSignature(context.Background(), req) })
	id := waitWindow(t, "Confirm signature", ch)
	shoot(t, id, "block-site.png")
	// Buttons, left to right: extra ("Block this website"), cancel
	// (focused), OK ("Sign").
	keys(t, id, "shift+Tab", "Return")
	if ok, err := await(t, ch); ok || !errors.Is(err, bridge.ErrBlockSite) {
		t.Errorf("block button: %v, %v", ok, err)
	}
	waitGone(t, id)

	p = New(Options{Language: "nl"})
	chp := async(func() ([]byte, error) {
		return p.PIN(context.Background(), bridge.PINRequest{Origin: "https://app.hostile.example", Purpose: bridge.PurposeAuthenticate, TriesLeft: 3, OfferBlock: true})
	})
	id = waitWindow(t, "pincode", chp)
	shoot(t, id, "block-site-pin-nl.png")
	keys(t, id, "Escape")
	if pin, err := await(t, chp); pin != nil || !errors.Is(err, bridge.ErrPromptCancelled) {
		t.Errorf("escaped PIN dialog: %q, %v", pin, err)
	}
}
