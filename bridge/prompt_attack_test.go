package bridge_test

// Issue 10: prompts that cannot be abused. Each test reproduces one way a
// hostile page wore the user down, burnt the PIN or stretched a consent.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

// TestAttackConcurrentPINVerifies is item 1: three pin.verify at once
// each read "3 tries left" before any dialog; three wrong PINs then
// blocked the card without the last-try confirmation ever appearing.
func TestAttackConcurrentPINVerifies(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	for i := 0; i < 3; i++ {
		e.prompter.EnterPIN("0000")
	}
	e.prompter.Confirm(bridgetest.ConfirmLastTry, false)
	ids := []string{c.send("pin.verify", nil), c.send("pin.verify", nil), c.send("pin.verify", nil)}
	codes := map[string]int{}
	for _, id := range ids {
		codes[c.response(id).code()]++
	}
	if card.TriesLeft() == 0 {
		t.Fatalf("the card was blocked without the last-try confirmation: %v", codes)
	}
	if codes["PIN_INCORRECT"] != 2 || codes["PIN_LAST_TRY"] != 1 || card.TriesLeft() != 1 {
		t.Errorf("outcomes %v, tries left %d; want 2 wrong PINs, then the last-try refusal", codes, card.TriesLeft())
	}
	var shown []int
	for _, call := range e.prompter.Calls() {
		if call.Kind == bridgetest.PIN {
			shown = append(shown, call.TriesLeft)
		}
	}
	if fmt.Sprint(shown) != "[3 2]" {
		t.Errorf("PIN dialogs showed tries %v, want [3 2]", shown)
	}
}

// TestAttackPINTriesSpentElsewhere is item 1 too: tries spent by another
// program between the dialog and VERIFY must not let this VERIFY be the
// unconfirmed last one.
func TestAttackPINTriesSpentElsewhere(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	opened := e.prompter.Opened()
	typed := make(chan struct{})
	e.prompter.Push(bridgetest.PIN, bridgetest.Answer{PIN: "0000", Hold: typed})
	id := c.send("pin.verify", nil)
	waitDialog(t, opened, bridgetest.PIN)
	// Another application spends two tries while the dialog (3 left) is
	// open: VERIFY, PIN reference 01, format 2 PIN block of "0000".
	for i := 0; i < 2; i++ {
		resp, err := card.Transmit(context.Background(), []byte{0x00, 0x20, 0x00, 0x01, 0x08, 0x24, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
		if err != nil || len(resp) != 2 || resp[0] != 0x63 {
			t.Fatalf("wrong VERIFY from elsewhere: % x, %v", resp, err)
		}
	}
	close(typed)
	if m := c.response(id); m.code() != "PIN_LAST_TRY" || card.TriesLeft() != 1 {
		t.Errorf("VERIFY after tries went from 3 to 1 unseen: %s, tries left %d", m.raw, card.TriesLeft())
	}
}

// TestAttackConsentSubdomains is item 2: the cooldown after "Deny" held
// per exact origin, so a1.evil.example, a2.evil.example... each got a
// fresh dialog.
func TestAttackConsentSubdomains(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{DenyCooldown: time.Minute}))
	e.prompter.AllowConsent(bridge.Deny)
	for i := 0; i < 10; i++ {
		e.prompter.AllowConsent(bridge.AllowOnce) // must not be used by evil.example
		refused(t, e, http.Header{"Origin": {fmt.Sprintf("https://a%d.evil.example", i)}}, http.StatusForbidden)
	}
	if n := len(e.prompter.Calls()); n != 1 {
		t.Errorf("%d consent dialogs for one site in its cooldown, want 1", n)
	}
	e.dial("https://portal.example").ok("version", nil, nil)
}

// TestAttackAbandonedHandshakeNags is item 2: a page that drops its
// handshake closes its dialog, and came straight back with a new one.
func TestAttackAbandonedHandshakeNags(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{AbandonCooldown: time.Minute}))
	opened := e.prompter.Opened()
	for i := 0; i < 5; i++ {
		e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Block: true})
	}
	for i := 0; i < 5; i++ {
		h := e.startHandshake(fmt.Sprintf("https://x%d.nag.example", i))
		if i == 0 {
			waitDialog(t, opened, bridgetest.Consent)
			h.abandon()
			eventually(t, "the dialog closes", func() bool { c := e.prompter.Calls(); return len(c) == 1 && c[0].Closed })
			continue
		}
		if st := h.status(); st != http.StatusForbidden {
			t.Errorf("handshake %d after an abandoned one: HTTP %d, want 403 without a dialog", i, st)
		}
	}
	if n := len(e.prompter.Calls()); n != 1 {
		t.Errorf("%d dialogs, want 1", n)
	}
}

// TestAttackConsentGlobalBackoff is item 2: after repeated denials of
// different sites, no consent dialog for a while, whoever asks.
func TestAttackConsentGlobalBackoff(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	for i := 0; i < 3; i++ {
		e.prompter.AllowConsent(bridge.Deny)
		refused(t, e, http.Header{"Origin": {fmt.Sprintf("https://site%d.example", i)}}, http.StatusForbidden)
	}
	e.prompter.AllowConsent(bridge.AllowOnce)
	if st := e.status(http.Header{"Origin": {"https://site9.example"}}); st == http.StatusSwitchingProtocols {
		t.Error("a fourth site got a dialog right after three denials")
	}
	if n := len(e.prompter.Calls()); n != 3 {
		t.Errorf("%d dialogs, want 3", n)
	}
}

// TestAttackConsentWaitsPerSite is item 2: four waiting handshakes of one
// site filled the global limit, so a new portal got 429 and no dialog.
func TestAttackConsentWaitsPerSite(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	opened := e.prompter.Opened()
	// The site's first waiting place, then the portal.
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Block: true}, bridgetest.Answer{Decision: bridge.AllowOnce})
	waits := func(origin string) func() bool {
		return func() bool {
			return strings.Contains(e.logs.String(), "msg=\"handshake waits for consent\" origin="+origin+" ")
		}
	}
	w0 := e.startHandshake("https://w0.hog.example")
	waitDialog(t, opened, bridgetest.Consent)
	w1 := e.startHandshake("https://w1.hog.example")
	eventually(t, "w1 waits", waits("https://w1.hog.example"))
	// The site's places are taken: its next pages are refused at once.
	for _, o := range []string{"https://w2.hog.example", "https://w3.hog.example"} {
		if st := e.status(http.Header{"Origin": {o}}); st != http.StatusTooManyRequests {
			t.Errorf("%s: HTTP %d, want 429", o, st)
		}
	}
	// The portal waits its turn, and gets its dialog once the hog's are
	// closed, instead of 429.
	portal := e.startHandshake("https://portal.example")
	eventually(t, "the portal waits for its dialog", waits("https://portal.example"))
	// An abandoned dialog is a short denial of its site: w1, which asked
	// before the portal, is refused when its turn comes, without a dialog.
	w0.abandon()
	if st := w1.status(); st != http.StatusForbidden {
		t.Errorf("w1: HTTP %d, want 403", st)
	}
	if st := portal.status(); st != http.StatusSwitchingProtocols {
		t.Errorf("portal: HTTP %d", st)
	}
	if calls := e.prompter.Calls(); len(calls) != 2 || calls[1].Origin != "https://portal.example" {
		t.Errorf("dialogs %+v, want w0's and the portal's", calls)
	}
}

// TestAttackFrameFloodUncharged is item 7: frames with bad JSON or an
// invalid id (or binary ones) were answered before the rate limiter was
// consulted.
func TestAttackFrameFloodUncharged(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	const n = 200
	junk := []byte("{" + strings.Repeat(" ", 60<<10))
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			c.sendRaw(junk)
		case 1:
			c.sendRaw([]byte(`{"id":{"x":1},"method":"version"}`))
		default:
			c.wmu.Lock()
			err := c.ws.WriteMessage(websocket.BinaryMessage, []byte("binary"))
			c.wmu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	limited := 0
	for i := 0; i < n; i++ {
		if c.wait("answer", func(m msg) bool { return m.Event == "" }).code() == "RATE_LIMITED" {
			limited++
		}
	}
	// A burst of 40 and 20/s refill: however slow the machine, a good
	// part of 200 back-to-back frames must be refused.
	if limited < n/4 {
		t.Errorf("%d of %d junk frames rate limited", limited, n)
	}
}

// TestAttackRefusalLogFlood is item 7: every refused handshake was
// logged at warn, so any page could rotate the log away.
func TestAttackRefusalLogFlood(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.status(http.Header{"Origin": {"http://flood.example"}})
		}()
	}
	wg.Wait()
	if n := strings.Count(e.logs.String(), "level=WARN msg=\"refused"); n > 20 {
		t.Errorf("%d warn lines for 200 refused handshakes", n)
	}
}

// TestAttackOriginsNoBrowserSends is item 9: the handshake accepted
// origins config.NormalizeOrigin refuses, and asked the user about them.
func TestAttackOriginsNoBrowserSends(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	for _, o := range []string{
		"https://bänk.example",
		"https://%62ank.example",
		"https://" + strings.Repeat("a", 64) + ".example",
		"https://a..example",
		"https://-bank.example",
	} {
		e.prompter.AllowConsent(bridge.AllowOnce)
		if st := e.status(http.Header{"Origin": {o}}); st != http.StatusForbidden {
			t.Errorf("%q: HTTP %d, want 403", o, st)
		}
	}
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("dialogs for origins no browser sends: %+v", calls)
	}
}

var signParams = map[string]string{"digest": base64.StdEncoding.EncodeToString(make([]byte, 48)), "hashAlgorithm": "SHA-384",
	"documentName": "Lease.pdf"}

// TestAttackDialogFatigue is item 3: a site the user allowed re-opened
// the signature dialog as soon as it was dismissed, forever.
func TestAttackDialogFatigue(t *testing.T) {
	// A back-off that cannot end during the test, however slow the machine.
	e, _ := newEnv(t, sim.ProfileECC, preConsented, withLimits(bridge.Limits{RefusalBackoff: time.Minute}))
	c := e.dial(testOrigin)
	limited := 0
	for i := 0; i < 30; i++ {
		// No answer queued: the scripted user refuses every dialog.
		if c.call("sign", signParams).code() == "RATE_LIMITED" {
			limited++
		}
	}
	if n := len(e.prompter.Calls()); n > 2 {
		t.Errorf("%d signature dialogs in a row after refusals, want at most 2", n)
	}
	if limited < 28 {
		t.Errorf("%d of 30 re-opens refused without a dialog", limited)
	}
}

// TestAttackBlockThisSite is item 3: after repeated refusals the dialog
// offers to block the site; taking it ends the site's sessions, refuses
// its pages without a dialog and is kept in the consent store.
func TestAttackBlockThisSite(t *testing.T) {
	store := &bridge.MemoryConsentStore{}
	store.Allow("https://app.hostile.example")
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{RefusalBackoff: time.Millisecond, MaxRefusalBackoff: time.Millisecond}),
		func(c *bridge.Config) { c.Consents = store })
	c := e.dial("https://app.hostile.example")
	for i := 0; i < 3; i++ {
		time.Sleep(5 * time.Millisecond)
		c.fails("sign", signParams, "CONSENT_DENIED")
	}
	time.Sleep(5 * time.Millisecond)
	e.prompter.Push(bridgetest.ConfirmSignature, bridgetest.Answer{Err: bridge.ErrBlockSite})
	c.fails("sign", signParams, "CONSENT_DENIED")
	calls := e.prompter.Calls()
	if len(calls) != 4 || calls[0].OfferBlock || calls[2].OfferBlock || !calls[3].OfferBlock {
		t.Fatalf("dialogs %+v: want \"block this site\" offered from the fourth on", calls)
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Error("the blocked site's session stays open")
	}
	if got := store.BlockedSites(); len(got) != 1 || got[0] != "https://hostile.example" {
		t.Errorf("blocked sites in the store: %v", got)
	}
	for _, o := range []string{"https://app.hostile.example", "https://other.hostile.example"} {
		e.prompter.AllowConsent(bridge.AllowOnce)
		if st := e.status(http.Header{"Origin": {o}}); st != http.StatusForbidden {
			t.Errorf("%s after the block: HTTP %d", o, st)
		}
	}
	if n := len(e.prompter.Calls()); n != 4 {
		t.Errorf("dialogs for a blocked site: %+v", e.prompter.Calls()[4:])
	}
	e.srv.Core().UnblockSite("https://hostile.example")
	e.prompter.AllowConsent(bridge.AllowOnce)
	e.dial("https://app.hostile.example").ok("version", nil, nil)
}

// TestAttackAllowOnceOtherCard is item 4: a once-allowed session read a
// different person's card inserted later, without a dialog.
func TestAttackAllowOnceOtherCard(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	e.prompter.AllowConsent(bridge.AllowOnce)
	c := e.dial("https://once.example")
	// Swapped at once, before the page's first request.
	e.readers.Remove(reader0)
	if err := e.readers.Insert(reader0, newCard(t, sim.ProfileRSA)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done: // the session ended with the card
	case <-time.After(5 * time.Second):
		if m := c.call("identity", nil); m.code() == "" {
			t.Error("an allow-once session read the card inserted after the grant")
		} else {
			t.Error("an allow-once session outlived its card")
		}
	}
}

// TestAttackAllowOnceOtherReader: a session allowed once for the card in
// one reader read the card another person inserted later in another
// reader (a laptop's own reader beside a USB one), without a dialog.
func TestAttackAllowOnceOtherReader(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	e.prompter.AllowConsent(bridge.AllowOnce)
	c := e.dial("https://once.example")
	c.ok("identity", map[string]string{"reader": reader0}, nil)
	if err := e.readers.Insert(reader1, newCard(t, sim.ProfileRSA)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"identity", "card", "pin.verify"} {
		c.fails(m, map[string]string{"reader": reader1}, "CONSENT_DENIED")
	}
	if calls := e.prompter.Calls(); len(calls) != 1 {
		t.Errorf("dialogs %+v, want the consent only", calls)
	}
	// The card allowed is still there for the page.
	c.ok("identity", map[string]string{"reader": reader0}, nil)
}

// TestAttackAllowOnceExpires is item 4: a once-allowed session lived as
// long as the tab.
func TestAttackAllowOnceExpires(t *testing.T) {
	const ttl = 2 * time.Second
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{AllowOnceTTL: ttl}))
	e.prompter.AllowConsent(bridge.AllowOnce)
	start := time.Now()
	c := e.dial("https://once.example")
	c.ok("version", nil, nil)
	select {
	case <-c.done:
		if d := time.Since(start); d < ttl-100*time.Millisecond {
			t.Errorf("ended after %v, before its time limit", d)
		}
	case <-time.After(ttl + 10*time.Second):
		t.Error("the allow-once session outlived its time limit")
	}
}

// TestAttackRevokedKeepsEvents is item 4: sessions of an origin revoked
// in the tray kept their reader events, and stayed open.
func TestAttackRevokedKeepsEvents(t *testing.T) {
	store := &bridge.MemoryConsentStore{}
	store.Allow("https://kept.example")
	store.Allow("https://gone.example")
	e, _ := newEnv(t, sim.ProfileECC, func(c *bridge.Config) { c.Consents = store })
	kept, gone := e.dial("https://kept.example"), e.dial("https://gone.example")
	kept.ok("readers", nil, nil)
	gone.ok("readers", nil, nil)
	// Revoked behind the daemon's back (another instance's tray): the
	// next event is not delivered and the session ends.
	store.Revoke("https://gone.example")
	e.readers.Remove(reader0)
	kept.event("readers")
	select {
	case <-gone.done:
	case <-time.After(5 * time.Second):
		t.Error("a revoked origin's session stays open after a reader event")
	}
	for _, f := range strings.Split(gone.all.String(), "\n") {
		if strings.Contains(f, `"event":"readers"`) {
			t.Errorf("event sent to a revoked origin: %s", f)
		}
	}
	// Revoked in this daemon's tray: the session ends at once.
	e.srv.Core().Revoke("https://kept.example")
	select {
	case <-kept.done:
	case <-time.After(5 * time.Second):
		t.Error("the tray's revocation left the session open")
	}
}

// TestAttackPinpadNamesNoSite is item 5: with a pinpad reader the PIN
// was asked on the keypad with no sign of which site asked.
func TestAttackPinpadNamesNoSite(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	opened := e.prompter.Opened()
	var during []bridgetest.Call
	e.readers.SetPinpad(reader0, func(ctx context.Context) ([]byte, error) {
		timeout := time.After(3 * time.Second)
		for {
			select {
			case call := <-opened:
				if call.Kind != bridgetest.PinpadNotice {
					continue
				}
				during = e.prompter.Calls()
				return []byte(testPIN), nil
			case <-timeout:
				return []byte(testPIN), nil
			}
		}
	})
	c := e.dial(testOrigin)
	c.ok("pin.verify", nil, nil)
	var notice *bridgetest.Call
	for i, call := range during {
		if call.Kind == bridgetest.PinpadNotice {
			notice = &during[i]
		}
	}
	if notice == nil || notice.Origin != testOrigin || notice.Closed {
		t.Fatalf("no open pinpad notice naming the site while the keypad took the PIN: %+v", during)
	}
	eventually(t, "the notice closes when the entry ends", func() bool {
		for _, call := range e.prompter.Calls() {
			if call.Kind == bridgetest.PinpadNotice && !call.Closed {
				return false
			}
		}
		return true
	})
}

// activityLog collects bridge.Activity records.
type activityLog struct {
	mu  sync.Mutex
	all []bridge.Activity
}

func (l *activityLog) Record(a bridge.Activity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, a)
}

// TestActivityRecorded is item 10: what sites did with the card, for the
// tray, and nothing of the PIN or the national number.
func TestActivityRecorded(t *testing.T) {
	acts := &activityLog{}
	e, card := newEnv(t, sim.ProfileECC, preConsented, func(c *bridge.Config) { c.Activity = acts })
	c := e.dial(testOrigin)
	c.ok("identity", nil, nil)
	e.prompter.Confirm(bridgetest.ConfirmSignature, true)
	e.prompter.EnterPIN(testPIN)
	c.ok("sign", signParams, nil)
	acts.mu.Lock()
	defer acts.mu.Unlock()
	var got []string
	for _, a := range acts.all {
		got = append(got, a.Origin+" "+string(a.Action))
		if a.Time.IsZero() || time.Since(a.Time) > time.Minute {
			t.Errorf("activity time %v", a.Time)
		}
		if s := fmt.Sprintf("%+v", a); strings.Contains(s, testPIN) || strings.Contains(s, card.Person().Identity.NationalNumber) {
			t.Errorf("activity holds the PIN or national number: %s", s)
		}
	}
	if fmt.Sprint(got) != "["+testOrigin+" identity "+testOrigin+" sign]" {
		t.Errorf("activity %v", got)
	}
}

// applet11Readers shows its cards as applet 1.1: the GET CARD DATA
// answer says version 11, which cannot report PIN tries without
// spending one.
type applet11Readers struct{ bridge.Readers }

func (r applet11Readers) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	s, err := r.Readers.Open(ctx, reader)
	if err != nil {
		return nil, err
	}
	return applet11Session{s}, nil
}

type applet11Session struct{ bridge.CardSession }

func (s applet11Session) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := s.CardSession.Transmit(ctx, cmd)
	// GET CARD DATA (80 E4 00 00): byte 21 is the applet version.
	if err == nil && len(cmd) >= 4 && cmd[0] == 0x80 && cmd[1] == 0xE4 && cmd[3] == 0x00 && len(resp) > 23 {
		resp = bytes.Clone(resp)
		resp[21] = 0x11
	}
	return resp, err
}

func (s applet11Session) ATR() []byte {
	if a, ok := s.CardSession.(bridge.ATRSession); ok {
		return a.ATR()
	}
	return nil
}

// TestAttackApplet11NoWarning is item 1 too: applet 1.1 cards, whose
// tries are unknown, never got the last-try warning.
func TestAttackApplet11NoWarning(t *testing.T) {
	e, card := newEnv(t, sim.ProfileRSA, preConsented, func(c *bridge.Config) { c.Readers = applet11Readers{c.Readers} })
	c := e.dial(testOrigin)
	e.prompter.Confirm(bridgetest.ConfirmLastTry, false)
	c.fails("pin.verify", nil, "PIN_LAST_TRY")
	calls := e.prompter.Calls()
	if len(calls) != 1 || calls[0].Kind != bridgetest.ConfirmLastTry || calls[0].TriesLeft != -1 {
		t.Errorf("dialogs %+v, want the last-try warning with tries unknown", calls)
	}
	if card.TriesLeft() != 3 || e.readers.PINVerifies() != 0 {
		t.Errorf("tries %d, VERIFYs %d", card.TriesLeft(), e.readers.PINVerifies())
	}
	// Confirmed, the PIN is asked and used.
	e.prompter.Confirm(bridgetest.ConfirmLastTry, true)
	e.prompter.EnterPIN(testPIN)
	c.ok("pin.verify", nil, nil)
}

// queueConsent starts a handshake of origin first, whose consent dialog
// stays open until answer is closed and then answers d, and one of
// origin queued that waits behind that dialog; its own dialog, if shown,
// would allow it once.
func queueConsent(t *testing.T, e *env, first string, d bridge.ConsentDecision, queued string) (h1, h2 *handshake, answer chan struct{}) {
	t.Helper()
	answer = make(chan struct{})
	opened := e.prompter.Opened()
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Decision: d, Hold: answer},
		bridgetest.Answer{Decision: bridge.AllowOnce})
	h1 = e.startHandshake(first)
	waitDialog(t, opened, bridgetest.Consent)
	h2 = e.startHandshake(queued)
	eventually(t, "the second handshake waits for its dialog", func() bool {
		return strings.Contains(e.logs.String(), "handshake waits for consent\" origin="+queued)
	})
	return h1, h2, answer
}

// TestAttackBlockedSiteQueuedConsent: a site the user blocked still got
// the consent dialog one of its origins had queued behind another dialog,
// and a yes there let the blocked site in.
func TestAttackBlockedSiteQueuedConsent(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	first, queued, answer := queueConsent(t, e, "https://other.example", bridge.AllowOnce, "https://a2.evil.example")
	e.srv.Core().BlockSite("https://evil.example")
	close(answer)
	if s := first.status(); s != http.StatusSwitchingProtocols {
		t.Errorf("the allowed site: HTTP %d", s)
	}
	if s := queued.status(); s != http.StatusForbidden {
		t.Errorf("the blocked site's queued handshake: HTTP %d, want 403", s)
	}
	for _, c := range e.prompter.Calls() {
		if c.Origin == "https://a2.evil.example" {
			t.Errorf("a dialog for the blocked site: %+v", c)
		}
	}
}

// TestAttackDeniedSiteQueuedConsent: a site's consent dialog queued
// behind the one the user denied for another of its origins was shown
// right after it, cooldown or not.
func TestAttackDeniedSiteQueuedConsent(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	first, queued, answer := queueConsent(t, e, "https://a1.evil.example", bridge.Deny, "https://a2.evil.example")
	close(answer)
	if s := first.status(); s != http.StatusForbidden {
		t.Errorf("the denied origin: HTTP %d", s)
	}
	if s := queued.status(); s != http.StatusForbidden {
		t.Errorf("the denied site's queued handshake: HTTP %d, want 403", s)
	}
	if calls := e.prompter.Calls(); len(calls) != 1 {
		t.Errorf("dialogs %+v, want the denied one only", calls)
	}
}

// loadSignals is a refusal store that tells each Load.
type loadSignals struct {
	bridge.MemoryRefusalStore
	loads chan struct{}
}

func (s *loadSignals) Load() bridge.Refusals {
	r := s.MemoryRefusalStore.Load()
	select {
	case s.loads <- struct{}{}:
	default:
	}
	return r
}

// TestAttackBackoffQueuedDialogs: signature dialogs of an origin queued
// behind the one whose refusal started its back-off were shown one after
// another, back-off or not.
func TestAttackBackoffQueuedDialogs(t *testing.T) {
	store := &loadSignals{loads: make(chan struct{}, 16)}
	e, card := newEnv(t, sim.ProfileECC, preConsented, withLimits(bridge.Limits{RefusalBackoff: time.Minute, MaxRefusalBackoff: time.Minute}),
		func(c *bridge.Config) { c.Refusals = store })
	c := e.dial(testOrigin)
	params := map[string]string{"digest": base64.StdEncoding.EncodeToString(make([]byte, 32)), "hashAlgorithm": "SHA-256"}
	// The first refusal costs nothing; the second starts the back-off.
	c.fails("sign", params, "CONSENT_DENIED")
	answer := make(chan struct{})
	opened := e.prompter.Opened()
	e.prompter.Push(bridgetest.ConfirmSignature, bridgetest.Answer{OK: false, Hold: answer}, bridgetest.Answer{OK: true})
	first := c.send("sign", params)
	waitDialog(t, opened, bridgetest.ConfirmSignature)
	for len(store.loads) > 0 {
		<-store.loads
	}
	queued := c.send("sign", params)
	<-store.loads // the queued request checked the back-off: none yet
	close(answer)
	if m := c.response(first); m.code() != "CONSENT_DENIED" {
		t.Errorf("first: %+v", m)
	}
	if m := c.response(queued); m.code() != "RATE_LIMITED" {
		t.Errorf("the queued request: %+v, want RATE_LIMITED", m)
	}
	if n := len(e.prompter.Calls()); n != 2 || e.readers.Signatures() != 0 || card.TriesLeft() != 3 {
		t.Errorf("%d dialogs, %d signatures", n, e.readers.Signatures())
	}
}

// TestAttackPinpadNoBackoff: on a pinpad reader, where the keypad takes
// the place of the PIN dialog, a page could start PIN entry after PIN
// entry the user cancelled, without the back-off of the PIN dialog.
func TestAttackPinpadNoBackoff(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented, withLimits(bridge.Limits{RefusalBackoff: time.Minute, MaxRefusalBackoff: time.Minute}))
	entries := 0
	e.readers.SetPinpad(reader0, func(context.Context) ([]byte, error) {
		entries++
		return nil, simreaders.ErrPinpadCancelled
	})
	c := e.dial(testOrigin)
	c.fails("authenticate", map[string]string{"challengeNonce": nonce()}, "USER_CANCELLED")
	c.fails("pin.verify", nil, "USER_CANCELLED")
	c.fails("authenticate", map[string]string{"challengeNonce": nonce()}, "RATE_LIMITED")
	if entries != 2 || card.TriesLeft() != 3 {
		t.Errorf("%d keypad entries, %d tries left", entries, card.TriesLeft())
	}
}

// TestAttackBackoffOtherOrigin: the back-off of PIN and signature
// dialogs, and the count of refusals that brings the "block this site"
// offer, were kept per origin, so a page that was backed off went on
// from another subdomain or port of its site with neither.
func TestAttackBackoffOtherOrigin(t *testing.T) {
	origins := []string{"https://a.evil.example", "https://b.evil.example", "https://a.evil.example:8443", "https://evil.example"}
	store := &bridge.MemoryConsentStore{}
	for _, o := range origins {
		store.Allow(o)
	}
	t.Run("backoff", func(t *testing.T) {
		e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{RefusalBackoff: time.Minute, MaxRefusalBackoff: time.Minute}),
			func(c *bridge.Config) { c.Consents = store })
		// The first refusal costs nothing; the second starts the back-off.
		e.dial(origins[0]).fails("sign", signParams, "CONSENT_DENIED")
		e.dial(origins[1]).fails("sign", signParams, "CONSENT_DENIED")
		for _, o := range origins {
			e.dial(o).fails("sign", signParams, "RATE_LIMITED")
		}
		if n := len(e.prompter.Calls()); n != 2 {
			t.Errorf("%d signature dialogs, want 2: %+v", n, e.prompter.Calls())
		}
	})
	t.Run("block offer", func(t *testing.T) {
		e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{RefusalBackoff: time.Millisecond, MaxRefusalBackoff: time.Millisecond}),
			func(c *bridge.Config) { c.Consents = store })
		for _, o := range origins {
			time.Sleep(5 * time.Millisecond)
			e.dial(o).fails("sign", signParams, "CONSENT_DENIED")
		}
		calls := e.prompter.Calls()
		if len(calls) != 4 || calls[2].OfferBlock || !calls[3].OfferBlock {
			t.Fatalf("dialogs %+v: want \"block this site\" offered at the fourth, whatever the origin", calls)
		}
		// The dialog still names the page's own origin.
		if calls[3].Origin != origins[3] || calls[1].Origin != origins[1] {
			t.Errorf("dialogs name %q and %q", calls[1].Origin, calls[3].Origin)
		}
	})
}
