package bridge_test

// The attack suite: what a hostile page, a hostile local process or a
// careless user can try, and what the server must do about it.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
)

// refused dials with the headers and requires an HTTP refusal with status.
func refused(t *testing.T, e *env, h http.Header, status int) {
	t.Helper()
	ws, resp, err := e.dialRaw(h)
	if err == nil {
		ws.Close()
		t.Fatalf("handshake with %v succeeded, want HTTP %d", h, status)
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != status {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("handshake with %v: %v (HTTP %d), want HTTP %d", h, err, code, status)
	}
}

func TestAttackOriginPolicy(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented, func(c *bridge.Config) {
		c.DevHTTPOrigins = []string{"http://localhost:8080"}
	})
	for _, h := range []http.Header{
		{},                                    // no Origin: not a browser page, or a stripped one
		{"Origin": {"null"}},                  // sandboxed iframe, file:// page, data: URL
		{"Origin": {""}},                      //
		{"Origin": {"http://portal.example"}}, // plain http without the developer flag
		{"Origin": {"http://localhost:9999"}}, // http, but not the listed developer origin
		{"Origin": {"file://"}},
		{"Origin": {"chrome-extension://abcdefghijklmnop"}},
		{"Origin": {"https://portal.example/login"}}, // browsers never send a path
		{"Origin": {"https://user:pw@portal.example"}},
		{"Origin": {testOrigin, "https://evil.example"}}, // two Origin headers
	} {
		refused(t, e, h, http.StatusForbidden)
	}
	// A handshake that cannot be upgraded is refused before anyone is
	// asked about it.
	for _, tc := range []struct {
		method, version, key string
		status               int
	}{
		{"GET", "8", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusBadRequest},
		{"GET", "13", "c2hvcnQ=", http.StatusBadRequest},
		{"GET", "13", "", http.StatusBadRequest},
		{"POST", "13", "dGhlIHNhbXBsZSBub25jZQ==", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, "http://127.0.0.1:"+strconv.Itoa(e.port)+"/v1", nil)
		req.Header = http.Header{"Origin": {"https://unknown.example"}, "Connection": {"Upgrade"}, "Upgrade": {"websocket"},
			"Sec-Websocket-Version": {tc.version}, "Sec-Websocket-Key": {tc.key}}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s version %q key %q: HTTP %d, want %d", tc.method, tc.version, tc.key, resp.StatusCode, tc.status)
		}
	}
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("refused handshakes opened dialogs: %+v", calls)
	}
	// The listed developer origin may connect, once the user allows it:
	// an http origin is no more trusted than an https one.
	e.prompter.AllowConsent(bridge.AllowOnce)
	e.dial("http://localhost:8080").ok("version", nil, nil)
}

// TestAttackForeignOriginStrict: with OnlyAllowedOrigins, an https origin
// that is neither configured nor consented gets no session at all.
func TestAttackForeignOriginStrict(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented, func(c *bridge.Config) { c.OnlyAllowedOrigins = true })
	refused(t, e, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden)
	e.dial(testOrigin).ok("version", nil, nil)
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("dialogs: %+v", calls)
	}
}

// TestAttackForeignOriginDenied: a page on an origin the user has not
// allowed gets no session at all. Its handshake waits while the user is
// asked, once, showing the page's origin; denied, it is refused with 403
// and nothing at all is sent to the card.
func TestAttackForeignOriginDenied(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	before := card.Commands()
	e.prompter.AllowConsent(bridge.Deny)
	refused(t, e, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden)
	if card.Commands() != before || e.readers.Opens() != 0 {
		t.Errorf("denied origin reached the card: %d commands, %d sessions", card.Commands()-before, e.readers.Opens())
	}
	calls := e.prompter.Calls()
	if len(calls) != 1 || calls[0].Kind != bridgetest.Consent || calls[0].Origin != "https://evil.example" {
		t.Errorf("dialogs = %+v", calls)
	}
	if logs := e.logs.String(); strings.Contains(logs, "msg=connected origin=https://evil.example") {
		t.Errorf("a session was opened for the denied origin:\n%s", logs)
	}
	// The allowed origin is not affected.
	e.dial(testOrigin).ok("card", nil, nil)
}

// TestAttackConsentUnanswered: a dialog nobody answers closes after the
// prompt timeout, and the handshake is refused. Nobody said no, so the
// next handshake may ask again.
func TestAttackConsentUnanswered(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{PromptTimeout: 200 * time.Millisecond}))
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Block: true})
	start := time.Now()
	refused(t, e, http.Header{"Origin": {testOrigin}}, http.StatusForbidden)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("refused after %v, before the prompt timeout", d)
	}
	if calls := e.prompter.Calls(); len(calls) != 1 || !calls[0].Closed {
		t.Errorf("dialogs = %+v, want one, closed", calls)
	}
	// A dismissed dialog is no answer either.
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Err: bridge.ErrPromptCancelled})
	refused(t, e, http.Header{"Origin": {testOrigin}}, http.StatusForbidden)
	e.prompter.AllowConsent(bridge.AllowOnce)
	e.dial(testOrigin).ok("card", nil, nil)
	if n := len(e.prompter.Calls()); n != 3 {
		t.Errorf("%d consent dialogs, want 3", n)
	}
}

// TestAttackConsentNagging: after a denial, reconnecting does not bring
// the dialog back until the cooldown has passed; other origins are asked.
func TestAttackConsentNagging(t *testing.T) {
	// Long enough for the handshakes below on a loaded machine, short
	// enough to wait out.
	const cooldown = time.Second
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{DenyCooldown: cooldown}))
	e.prompter.AllowConsent(bridge.Deny)
	nag := http.Header{"Origin": {"https://nag.example"}}
	refused(t, e, nag, http.StatusForbidden)
	deniedAt := time.Now()
	e.prompter.AllowConsent(bridge.AllowOnce) // must not be used by nag.example
	for i := 0; i < 5; i++ {
		refused(t, e, nag, http.StatusForbidden)
	}
	if time.Since(deniedAt) >= cooldown {
		t.Fatal("the machine is too slow for this test's cooldown")
	}
	if n := len(e.prompter.Calls()); n != 1 {
		t.Errorf("%d consent dialogs during the cooldown, want 1", n)
	}
	e.dial(testOrigin).ok("card", nil, nil)
	if calls := e.prompter.Calls(); len(calls) != 2 || calls[1].Origin != testOrigin {
		t.Errorf("dialogs = %+v", calls)
	}
	time.Sleep(time.Until(deniedAt.Add(cooldown + 50*time.Millisecond)))
	e.prompter.AllowConsent(bridge.AllowOnce)
	e.dial("https://nag.example").ok("card", nil, nil)
}

// TestAttackHandshakeFlood: a page that opens a hundred connections at
// once shows the user one dialog. The handshakes beyond the connection
// and consent limits are refused at once; the few that wait share the
// dialog's answer.
func TestAttackHandshakeFlood(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	before := card.Commands()
	const n = 100
	answer := make(chan struct{})
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.AllowOnce, Hold: answer})
	opened := e.prompter.Opened()
	var mu sync.Mutex
	statuses := map[int]int{}
	var sessions []*websocket.Conn
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The handshakes that wait do so until the test answers,
			// after the whole flood: longer than dialRaw's timeout on a
			// slow machine.
			d := websocket.Dialer{HandshakeTimeout: time.Minute}
			ws, resp, err := d.Dial(e.url(), http.Header{"Origin": {"https://flood.example"}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sessions = append(sessions, ws)
				statuses[http.StatusSwitchingProtocols]++
			case resp != nil:
				statuses[resp.StatusCode]++
			default:
				statuses[0]++
			}
		}()
	}
	waitDialog(t, opened, bridgetest.Consent)
	// 2 handshakes of one site may wait for consent (MaxConsentWaitsPerSite).
	eventually(t, "the excess handshakes are refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[http.StatusServiceUnavailable]+statuses[http.StatusTooManyRequests] == n-2
	})
	// The allowed portal still connects while the dialog is open.
	e.dial(testOrigin).ok("version", nil, nil)
	close(answer)
	wg.Wait()
	defer func() {
		for _, ws := range sessions {
			ws.Close()
		}
	}()
	// Which limit refuses a handshake (the origin's 8 slots: 503, or the
	// site's 2 waits: 429) depends on how the handshakes interleave.
	if statuses[http.StatusSwitchingProtocols] != 2 ||
		statuses[http.StatusServiceUnavailable]+statuses[http.StatusTooManyRequests] != n-2 {
		t.Errorf("handshake outcomes by HTTP status: %v", statuses)
	}
	if calls := e.prompter.Calls(); len(calls) != 1 || calls[0].Origin != "https://flood.example" {
		t.Errorf("dialogs = %+v, want one", calls)
	}
	if card.Commands() != before {
		t.Error("the flood reached the card")
	}
}

// TestAttackConsentWaitsBounded: handshakes of other origins do not
// queue up dialogs without bound behind the one on screen.
func TestAttackConsentWaitsBounded(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, withLimits(bridge.Limits{MaxConsentWaits: 2}))
	opened := e.prompter.Opened()
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Block: true}, bridgetest.Answer{Block: true})
	a := e.startHandshake("https://a.example")
	waitDialog(t, opened, bridgetest.Consent)
	b := e.startHandshake("https://b.example") // its dialog waits for a's
	eventually(t, "b waits", func() bool {
		return strings.Contains(e.logs.String(), "msg=\"handshake waits for consent\" origin=https://b.example")
	})
	if st := e.status(http.Header{"Origin": {"https://c.example"}}); st != http.StatusTooManyRequests {
		t.Errorf("third origin waiting: HTTP %d, want 429", st)
	}
	if calls := e.prompter.Calls(); len(calls) != 1 {
		t.Errorf("dialogs = %+v, want a's only", calls)
	}
	a.abandon()
	waitDialog(t, opened, bridgetest.Consent) // b's turn
	b.abandon()
	eventually(t, "both dialogs close", func() bool {
		calls := e.prompter.Calls()
		return len(calls) == 2 && calls[0].Closed && calls[1].Closed && calls[1].Origin == "https://b.example"
	})
	// The waits are freed: c is asked now.
	e.prompter.AllowConsent(bridge.AllowOnce)
	e.dial("https://c.example").ok("version", nil, nil)
}

// TestConsentSharedDialog: two handshakes from one origin share one
// dialog. The first page leaving does not close it while the second still
// waits; the answer opens the second page's session.
func TestConsentSharedDialog(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	opened := e.prompter.Opened()
	answer := make(chan struct{})
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.AllowOnce, Hold: answer})
	first := e.startHandshake(testOrigin)
	waitDialog(t, opened, bridgetest.Consent)
	second := e.startHandshake(testOrigin)
	eventually(t, "the second handshake waits", func() bool {
		return strings.Contains(e.logs.String(), "sharedDialog=true")
	})
	first.abandon()
	eventually(t, "the server sees the first page leave", func() bool {
		return strings.Contains(e.logs.String(), "msg=\"handshake left while waiting for consent\" origin="+testOrigin+" dialogClosed=false")
	})
	if calls := e.prompter.Calls(); len(calls) != 1 || calls[0].Closed {
		t.Fatalf("dialogs = %+v, want one, still open", calls)
	}
	close(answer)
	if st := second.status(); st != http.StatusSwitchingProtocols {
		t.Errorf("second handshake: HTTP %d", st)
	}
}

func TestAttackHostHeader(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	p := strconv.Itoa(e.port)
	for _, host := range []string{
		"evil.example:" + p,           // DNS rebinding: the attacker's name resolving to 127.0.0.1
		"127.0.0.1.evil.example:" + p, //
		"localhost.evil.example:" + p, //
		"127.0.0.1",                   // no port
		"127.0.0.1:1",                 // wrong port
		"127.0.0.2:" + p,              // other loopback address
		"0.0.0.0:" + p,                //
		"[::ffff:127.0.0.1]:" + p,     //
		"localhost.:" + p,             //
	} {
		refused(t, e, http.Header{"Origin": {testOrigin}, "Host": {host}}, http.StatusForbidden)
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+p+"/v1/health", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("health with Host %q = %d", host, resp.StatusCode)
		}
	}
	for _, host := range []string{"localhost:" + p, "LOCALHOST:" + p, "[::1]:" + p, "127.0.0.1:" + p} {
		ws, _, err := e.dialRaw(http.Header{"Origin": {testOrigin}, "Host": {host}})
		if err != nil {
			t.Errorf("Host %q refused: %v", host, err)
			continue
		}
		ws.Close()
	}
}

func TestAttackOversizedMessage(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	other := e.dial(testOrigin)
	big := `{"id":"big","method":"version","params":{"x":"` + strings.Repeat("a", 64<<10) + `"}}`
	c.sendRaw([]byte(big))
	m := c.wait("MESSAGE_TOO_LARGE", func(m msg) bool { return m.code() == "MESSAGE_TOO_LARGE" })
	if string(m.ID) != "null" {
		t.Errorf("id = %s", m.ID)
	}
	<-c.done
	if !websocket.IsCloseError(c.err, websocket.CloseMessageTooBig) {
		t.Errorf("connection ended with %v, want close 1009", c.err)
	}
	other.ok("version", nil, nil)
	e.dial(testOrigin).ok("version", nil, nil)

	// Exactly at the limit is fine.
	c2 := e.dial(testOrigin)
	pad := 64<<10 - len(`{"id":"max","method":"version","params":{"x":""}}`)
	c2.sendRaw([]byte(`{"id":"max","method":"version","params":{"x":"` + strings.Repeat("a", pad) + `"}}`))
	if m := c2.response("max"); m.Error != nil {
		t.Errorf("message of exactly 64 KiB: %s", m.raw)
	}
}

func TestAttackMalformed(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	for _, tc := range []struct {
		in, code, id string
	}{
		{`{`, "BAD_REQUEST", "null"},
		{`not json`, "BAD_REQUEST", "null"},
		{`[1,2]`, "BAD_REQUEST", "null"},
		{`{"method":"version"}`, "BAD_REQUEST", "null"},
		{`{"id":null,"method":"version"}`, "BAD_REQUEST", "null"},
		{`{"id":1.5,"method":"version"}`, "BAD_REQUEST", "null"},
		{`{"id":{},"method":"version"}`, "BAD_REQUEST", "null"},
		{`{"id":"` + strings.Repeat("x", 65) + `","method":"version"}`, "BAD_REQUEST", "null"},
		{`{"id":"a1"}`, "BAD_REQUEST", `"a1"`},
		{`{"id":"a2","method":"version","params":[]}`, "BAD_REQUEST", `"a2"`},
		{`{"id":"a3","method":"identity","params":{"reader":5}}`, "BAD_REQUEST", `"a3"`},
		{`{"id":"a4","method":"format.disk"}`, "UNKNOWN_METHOD", `"a4"`},
		{`{"id":"a5","method":"__proto__"}`, "UNKNOWN_METHOD", `"a5"`},
		{`{"id":"a6","method":"cancel","params":{}}`, "BAD_REQUEST", `"a6"`},
	} {
		c.sendRaw([]byte(tc.in))
		m := c.wait(tc.in, func(m msg) bool { return m.Event == "" })
		if m.code() != tc.code || string(m.ID) != tc.id {
			t.Errorf("%s: got %s, want %s with id %s", tc.in, m.raw, tc.code, tc.id)
		}
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"id":1,"method":"version"}`)); err != nil {
		t.Fatal(err)
	}
	if m := c.wait("binary", func(m msg) bool { return m.Event == "" }); m.code() != "BAD_REQUEST" {
		t.Errorf("binary frame: %s", m.raw)
	}
	c.ok("version", nil, nil) // still usable
}

func TestAttackFlood(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	const n = 1000
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.Reset()
		fmt.Fprintf(&b, `{"id":%d,"method":"version"}`, i)
		c.sendRaw([]byte(b.String()))
	}
	limited, ok := 0, 0
	for i := 0; i < n; i++ {
		m := c.wait("flood answer", func(m msg) bool { return m.Event == "" })
		switch m.code() {
		case "RATE_LIMITED":
			limited++
		case "":
			ok++
		default:
			t.Fatalf("flood answer %s", m.raw)
		}
	}
	// A burst of 40 and 20/s refill: however slow the machine, most of a
	// thousand back-to-back requests must be refused.
	if ok < 40 || limited < n/2 {
		t.Errorf("%d served, %d rate limited", ok, limited)
	}
	time.Sleep(100 * time.Millisecond)
	c.ok("version", nil, nil)
	e.dial(testOrigin).ok("version", nil, nil)
}

func TestAttackManyConnections(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented, func(c *bridge.Config) {
		for i := 0; i < 60; i++ {
			c.AllowedOrigins = append(c.AllowedOrigins, fmt.Sprintf("https://o%d.example", i))
		}
	})
	const n = 300
	var mu sync.Mutex
	var open []*websocket.Conn
	var refusedN, other int
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Many origins, so that the total limit is what bites.
			ws, resp, err := e.dialRaw(http.Header{"Origin": {fmt.Sprintf("https://o%d.example", i%60)}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				open = append(open, ws)
			case resp != nil && resp.StatusCode == http.StatusServiceUnavailable:
				refusedN++
			default:
				other++
			}
		}()
	}
	wg.Wait()
	if len(open) != 32 || refusedN != n-32 || other != 0 {
		t.Errorf("%d open, %d refused with 503, %d other failures", len(open), refusedN, other)
	}
	// Per-origin limit.
	refused(t, e, http.Header{"Origin": {testOrigin}}, http.StatusServiceUnavailable)
	for _, ws := range open {
		ws.Close()
	}
	eventually(t, "slots are released", func() bool {
		ws, _, err := e.dialRaw(http.Header{"Origin": {testOrigin}})
		if err != nil {
			return false
		}
		ws.Close()
		return true
	})
	var conns []*client
	for i := 0; i < 8; i++ {
		conns = append(conns, e.dial(testOrigin))
	}
	refused(t, e, http.Header{"Origin": {testOrigin}}, http.StatusServiceUnavailable)
	conns[0].ok("identity", nil, nil)
}

func TestAttackTooManyPending(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	opened := e.prompter.Opened()
	for i := 0; i < 8; i++ {
		e.prompter.Push(bridgetest.PIN, bridgetest.Answer{Block: true})
	}
	// The first request's dialog opens; seven more wait for their turn.
	ids := []string{c.send("pin.verify", nil)}
	waitDialog(t, opened, bridgetest.PIN)
	for i := 1; i < 8; i++ {
		ids = append(ids, c.send("pin.verify", nil))
	}
	c.fails("card", nil, "TOO_MANY_PENDING")
	// cancel is always possible, and frees a slot.
	c.ok("cancel", map[string]string{"id": ids[0]}, nil)
	if m := c.response(ids[0]); m.code() != "CANCELLED" {
		t.Errorf("cancelled: %s", m.raw)
	}
	defer func() {
		if t.Failed() {
			t.Logf("calls %+v\n%s", e.prompter.Calls(), e.logs.String())
		}
	}()
	waitDialog(t, opened, bridgetest.PIN) // the next request's dialog
	c.ok("card", nil, nil)
	// Disconnecting ends every pending request and closes the dialog.
	c.close()
	eventually(t, "the open dialog closes", func() bool {
		calls := e.prompter.Calls()
		for _, c := range calls {
			if !c.Closed {
				return false
			}
		}
		return len(calls) == 2
	})
	if card.TriesLeft() != 3 || e.readers.PINVerifies() != 0 {
		t.Error("a PIN try was spent")
	}
}

func TestAttackCancelledPINCostsNothing(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			e, card := newEnv(t, pr.p, preConsented)
			c := e.dial(testOrigin)
			e.prompter.Push(bridgetest.PIN, bridgetest.Answer{Err: bridge.ErrPromptCancelled})
			c.fails("authenticate", map[string]string{"challengeNonce": nonce()}, "USER_CANCELLED")
			if card.TriesLeft() != 3 || e.readers.PINVerifies() != 0 || e.readers.Signatures() != 0 {
				t.Errorf("tries %d, PIN VERIFYs %d, signatures %d", card.TriesLeft(), e.readers.PINVerifies(), e.readers.Signatures())
			}
		})
	}
}

func TestAttackWrongPIN(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			e, card := newEnv(t, pr.p, preConsented)
			c := e.dial(testOrigin)
			e.prompter.EnterPIN("0000")
			m := c.fails("pin.verify", nil, "PIN_INCORRECT")
			if m.Error.Data["triesLeft"] != float64(2) || card.TriesLeft() != 2 {
				t.Errorf("data %v, card tries %d", m.Error.Data, card.TriesLeft())
			}
			e.prompter.EnterPIN("0000")
			c.fails("authenticate", map[string]string{"challengeNonce": nonce()}, "PIN_INCORRECT")
			if e.readers.Signatures() != 0 {
				t.Error("signed after a wrong PIN")
			}
			// One try left: the user is asked first; refusing spends nothing.
			e.prompter.Confirm(bridgetest.ConfirmLastTry, false)
			m = c.fails("pin.verify", nil, "PIN_LAST_TRY")
			if card.TriesLeft() != 1 || e.readers.PINVerifies() != 2 {
				t.Errorf("after refusing the last try: tries %d, VERIFYs %d", card.TriesLeft(), e.readers.PINVerifies())
			}
			calls := e.prompter.Calls()
			last := calls[len(calls)-1]
			if last.Kind != bridgetest.ConfirmLastTry || last.TriesLeft != 1 || last.Origin != testOrigin {
				t.Errorf("last dialog %+v", last)
			}
			// Accepting and typing it right works and resets the counter.
			e.prompter.Confirm(bridgetest.ConfirmLastTry, true)
			e.prompter.EnterPIN(testPIN)
			c.ok("pin.verify", nil, nil)
			if card.TriesLeft() != 3 {
				t.Errorf("tries %d after a good PIN", card.TriesLeft())
			}
			// Malformed PINs never reach the card.
			e.prompter.EnterPIN("12a4")
			m = c.fails("pin.verify", nil, "PIN_INCORRECT")
			if m.Error.Data["invalidFormat"] != true || card.TriesLeft() != 3 {
				t.Errorf("malformed PIN: %s, tries %d", m.raw, card.TriesLeft())
			}
		})
	}
}

func TestAttackBlockedPINNoPrompt(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	for i := 0; i < 2; i++ {
		e.prompter.EnterPIN("0000")
		c.fails("pin.verify", nil, "PIN_INCORRECT")
	}
	e.prompter.Confirm(bridgetest.ConfirmLastTry, true)
	e.prompter.EnterPIN("0000")
	c.fails("pin.verify", nil, "PIN_BLOCKED")
	n := len(e.prompter.Calls())
	c.fails("authenticate", map[string]string{"challengeNonce": nonce()}, "PIN_BLOCKED")
	if len(e.prompter.Calls()) != n || card.TriesLeft() != 0 {
		t.Errorf("blocked PIN: dialogs %+v", e.prompter.Calls()[n:])
	}
}

func TestAttackDisconnectClosesPrompt(t *testing.T) {
	for _, k := range []bridgetest.Kind{bridgetest.Consent, bridgetest.PIN, bridgetest.ConfirmSignature} {
		t.Run(k.String(), func(t *testing.T) {
			// A page that leaves its consent dialog holds its site off
			// for AbandonCooldown: short here, waited out below.
			opts := []envOption{withLimits(bridge.Limits{AbandonCooldown: 50 * time.Millisecond})}
			if k != bridgetest.Consent {
				opts = append(opts, preConsented)
			}
			e, card := newEnv(t, sim.ProfileECC, opts...)
			opened := e.prompter.Opened()
			if k == bridgetest.PIN {
				e.prompter.Confirm(bridgetest.ConfirmSignature, true)
			}
			e.prompter.Push(k, bridgetest.Answer{Block: true})
			if k == bridgetest.Consent {
				// The page is closed while its handshake waits.
				h := e.startHandshake(testOrigin)
				waitDialog(t, opened, k)
				h.abandon()
			} else {
				c := e.dial(testOrigin)
				c.send("sign", map[string]string{"digest": base64.StdEncoding.EncodeToString(make([]byte, 32)), "hashAlgorithm": "SHA-256"})
				waitDialog(t, opened, k)
				c.close()
			}
			eventually(t, "the dialog closes", func() bool {
				calls := e.prompter.Calls()
				return calls[len(calls)-1].Closed
			})
			if card.TriesLeft() != 3 || e.readers.Signatures() != 0 {
				t.Error("the card was used after the page left")
			}
			// The next page is not blocked by the closed dialog.
			time.Sleep(100 * time.Millisecond)
			e.prompter.AllowConsent(bridge.AllowOnce)
			e.dial(testOrigin).ok("card", nil, nil)
		})
	}
}

// waitDialog waits until a dialog of kind k opens (the limit, generous
// for a loaded machine, only ends a test that failed).
func waitDialog(t *testing.T, opened <-chan bridgetest.Call, k bridgetest.Kind) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case call := <-opened:
			if call.Kind == k {
				return
			}
		case <-timeout:
			t.Fatalf("no %v dialog opened", k)
		}
	}
}

func TestAttackNoSignatureWithoutConfirmation(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			// No back-off after the refusals below (TestAttackDialogFatigue
			// has it).
			e, card := newEnv(t, pr.p, preConsented, withLimits(bridge.Limits{RefusalBackoff: time.Nanosecond, MaxRefusalBackoff: time.Nanosecond}))
			c := e.dial(testOrigin)
			params := map[string]string{"digest": base64.StdEncoding.EncodeToString(make([]byte, 48)), "hashAlgorithm": "SHA-384"}
			e.prompter.Confirm(bridgetest.ConfirmSignature, false)
			e.prompter.EnterPIN(testPIN) // must not be asked for
			c.fails("sign", params, "CONSENT_DENIED")
			e.prompter.Push(bridgetest.ConfirmSignature, bridgetest.Answer{Err: bridge.ErrPromptCancelled})
			c.fails("sign", params, "USER_CANCELLED")
			if e.readers.Signatures() != 0 || e.readers.PINVerifies() != 0 || card.TriesLeft() != 3 {
				t.Errorf("signatures %d, VERIFYs %d", e.readers.Signatures(), e.readers.PINVerifies())
			}
			for _, call := range e.prompter.Calls() {
				if call.Kind == bridgetest.PIN {
					t.Error("PIN asked without a confirmed signature")
				}
			}
			// Consent to the origin is not consent to sign: every
			// signature is confirmed.
			for i := 0; i < 2; i++ {
				e.prompter.Confirm(bridgetest.ConfirmSignature, true)
				e.prompter.EnterPIN(testPIN)
				c.ok("sign", params, nil)
			}
			if e.readers.Signatures() != 2 {
				t.Errorf("%d signatures", e.readers.Signatures())
			}
		})
	}
}

// TestAttackPINNeverLeaks runs every PIN path and then searches the logs
// and every frame sent to the page for the PIN and the national number.
func TestAttackPINNeverLeaks(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	e.prompter.EnterPIN(testPIN)
	c.ok("pin.verify", nil, nil)
	e.prompter.EnterPIN(testPIN)
	c.ok("authenticate", map[string]string{"challengeNonce": nonce()}, nil)
	e.prompter.Confirm(bridgetest.ConfirmSignature, true)
	e.prompter.EnterPIN(testPIN)
	c.ok("sign", map[string]string{"digest": base64.StdEncoding.EncodeToString(make([]byte, 32)), "hashAlgorithm": "SHA-256"}, nil)
	e.prompter.EnterPIN(testPIN[:5] + "0")
	c.fails("pin.verify", nil, "PIN_INCORRECT")
	c.ok("identity", nil, nil)

	logs := e.logs.String()
	if strings.Contains(logs, testPIN) || strings.Contains(c.all.String(), testPIN) {
		t.Error("the PIN appears in the logs or in a message to the page")
	}
	nn := card.Person().Identity.NationalNumber
	if strings.Contains(logs, nn) {
		t.Error("the full national number appears in the logs")
	}
	if !strings.Contains(logs, nn[:6]+"*****") {
		t.Errorf("the identity read is not logged with a masked national number:\n%s", logs)
	}
	if !strings.Contains(logs, "method=authenticate") || !strings.Contains(logs, "origin="+testOrigin) {
		t.Error("requests are not logged with origin and method")
	}
}

// TestAttackSilentPeer: a client that never reads (so never answers
// pings) is dropped, and its slot freed, without waiting for TCP.
func TestAttackSilentPeer(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented, withLimits(bridge.Limits{
		PingInterval: 50 * time.Millisecond, WriteTimeout: 50 * time.Millisecond, MaxConnsPerOrigin: 1}))
	ws, _, err := e.dialRaw(http.Header{"Origin": {testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// Never read: gorilla answers pings only from inside a read.
	eventually(t, "the silent connection is dropped", func() bool {
		return strings.Contains(e.logs.String(), "msg=disconnected")
	})
	e.dial(testOrigin).ok("version", nil, nil) // the per-origin slot is free again
}
