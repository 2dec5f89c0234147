package nativemsg_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/nativemsg"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

const (
	testOrigin = "https://portal.example"
	reader0    = "Virtual PCD 00 00"
)

var pki = struct {
	sync.Mutex
	p *sim.PKI
}{}

func newCore(t testing.TB, pr bridge.Prompter, card bool, tweak ...func(*bridge.Config)) *bridge.Core {
	t.Helper()
	readers := simreaders.New(reader0)
	if card {
		pki.Lock()
		if pki.p == nil {
			p, err := sim.NewPKI(sim.ProfileECC)
			if err != nil {
				pki.Unlock()
				t.Fatal(err)
			}
			pki.p = p
		}
		p := pki.p
		pki.Unlock()
		c, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: p, PIN: "1234"})
		if err != nil {
			t.Fatal(err)
		}
		if err := readers.Insert(reader0, c); err != nil {
			t.Fatal(err)
		}
	}
	cfg := bridge.Config{Readers: readers, Prompter: pr, Version: "0.1.0-test"}
	for _, f := range tweak {
		f(&cfg)
	}
	core, err := bridge.NewCore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		core.Shutdown(ctx)
	})
	return core
}

// browser is the browser's side of a host's stdio.
type browser struct {
	t     testing.TB
	toIn  *io.PipeWriter // the host's stdin
	outR  *io.PipeReader // the host's stdout
	done  chan error
	inbox chan map[string]any
}

// startHost runs serve (nativemsg.Serve, or a relay) over pipes.
func startHost(t testing.TB, serve func(ctx context.Context, in io.Reader, out io.Writer) error) *browser {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	b := &browser{t: t, toIn: inW, outR: outR, done: make(chan error, 1), inbox: make(chan map[string]any, 64)}
	go func() {
		err := serve(context.Background(), inR, outW)
		outW.Close()
		b.done <- err
	}()
	go b.readFrames(outR)
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return b
}

// readFrames puts each frame the host writes to out into the inbox, and
// closes the inbox when out ends.
func (b *browser) readFrames(out io.Reader) {
	defer close(b.inbox)
	for {
		f, err := nativemsg.ReadFrame(out, nativemsg.MaxToBrowser)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(f, &m); err != nil {
			b.t.Errorf("host sent non-JSON %q", f)
			return
		}
		b.inbox <- m
	}
}

func (b *browser) send(v any) {
	b.t.Helper()
	raw, ok := v.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := nativemsg.WriteFrame(b.toIn, raw); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) recv() map[string]any {
	b.t.Helper()
	select {
	case m, ok := <-b.inbox:
		if !ok {
			b.t.Fatal("host closed its output")
		}
		return m
	case <-time.After(10 * time.Second):
		b.t.Fatal("no message from the host")
	}
	return nil
}

// answer waits for the response to id, skipping events.
func (b *browser) answer(id float64) map[string]any {
	b.t.Helper()
	for {
		m := b.recv()
		if got, ok := m["id"].(float64); ok && got == id {
			return m
		}
	}
}

func (b *browser) exit() error {
	b.t.Helper()
	select {
	case err := <-b.done:
		return err
	case <-time.After(10 * time.Second):
		b.t.Fatal("host did not end")
	}
	return nil
}

func open(origin string) map[string]any {
	return map[string]any{"cardbridge": "open", "protocol": 1, "origin": origin}
}

func serveWith(core *bridge.Core) func(ctx context.Context, in io.Reader, out io.Writer) error {
	return func(ctx context.Context, in io.Reader, out io.Writer) error {
		return nativemsg.Serve(ctx, core, in, out)
	}
}

func TestHostSession(t *testing.T) {
	pr := &bridgetest.Prompter{}
	pr.AllowConsent(bridge.AllowOnce)
	core := newCore(t, pr, true)
	b := startHost(t, serveWith(core))
	b.send(open(testOrigin))
	hello := b.recv()
	if hello["event"] != "hello" {
		t.Fatalf("first message %v, want hello", hello)
	}
	calls := pr.Calls()
	if len(calls) != 1 || calls[0].Kind != bridgetest.Consent || calls[0].Origin != testOrigin {
		t.Fatalf("dialogs %+v, want one consent for %s", calls, testOrigin)
	}
	b.send(map[string]any{"id": 1, "method": "readers"})
	if r := b.answer(1); r["result"] == nil {
		t.Fatalf("readers: %v", r)
	}
	// A page's message naming another origin changes nothing: the
	// token is bound to the origin of the open message.
	b.send(map[string]any{"id": 2, "method": "identity", "origin": "https://evil.example"})
	r := b.answer(2)
	res, _ := r["result"].(map[string]any)
	if res == nil || res["identity"] == nil {
		t.Fatalf("identity: %v", r)
	}
	b.send([]byte{'{', 0xff, '}'})
	if r := b.recv(); r["error"] == nil || r["error"].(map[string]any)["code"] != "BAD_REQUEST" {
		t.Fatalf("invalid UTF-8 answered %v", r)
	}
	b.send([]byte(`{"id":3,`))
	if r := b.recv(); r["error"] == nil || r["error"].(map[string]any)["code"] != "BAD_REQUEST" {
		t.Fatalf("invalid JSON answered %v", r)
	}
	b.toIn.Close() // the browser closes the port
	if err := b.exit(); err != nil {
		t.Fatalf("host ended with %v after stdin closed", err)
	}
}

func TestHostRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first any
		code  string
	}{
		{"denied", open(testOrigin), "CONSENT_DENIED"},
		{"http origin", open("http://portal.example"), "ORIGIN_NOT_ALLOWED"},
		{"opaque origin", open("null"), "ORIGIN_NOT_ALLOWED"},
		{"origin with a path", open("https://portal.example/x"), "ORIGIN_NOT_ALLOWED"},
		{"request first", map[string]any{"id": 1, "method": "identity"}, "BAD_REQUEST"},
		{"protocol 2", map[string]any{"cardbridge": "open", "protocol": 2, "origin": testOrigin}, "BAD_REQUEST"},
		{"no origin", map[string]any{"cardbridge": "open", "protocol": 1}, "BAD_REQUEST"},
		{"not JSON", []byte("open"), "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := newCore(t, &bridgetest.Prompter{}, false) // denies consent
			b := startHost(t, serveWith(core))
			b.send(tc.first)
			m := b.recv()
			data, _ := m["data"].(map[string]any)
			if m["event"] != "refused" || data["code"] != tc.code || data["message"] == "" {
				t.Fatalf("got %v, want refused %s", m, tc.code)
			}
			if err := b.exit(); err == nil {
				t.Fatal("a refused session ended without error")
			}
		})
	}
}

func TestHostClosedBeforeOpen(t *testing.T) {
	core := newCore(t, &bridgetest.Prompter{}, false)
	b := startHost(t, serveWith(core))
	b.toIn.Close()
	if err := b.exit(); err != nil {
		t.Fatalf("host ended with %v, want a clean exit", err)
	}
}

// The dialog closes when the browser closes the port while the user is
// being asked.
func TestHostLeavesDuringConsent(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent []any // what the page sent after "open", before leaving
	}{
		{"nothing sent", nil},
		// A frame waiting for the session must not hide the end of the
		// input: the dialog still closes, and the request is never run.
		{"a request sent before hello", []any{map[string]any{"id": 1, "method": "version"}}},
		{"two requests sent before hello", []any{map[string]any{"id": 1, "method": "version"}, map[string]any{"id": 2, "method": "readers"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := &bridgetest.Prompter{}
			pr.Push(bridgetest.Consent, bridgetest.Answer{Block: true})
			opened := pr.Opened() // before the dialog can open
			core := newCore(t, pr, false)
			b := startHost(t, serveWith(core))
			b.send(open(testOrigin))
			select {
			case <-opened:
			case <-time.After(5 * time.Second):
				t.Fatal("no consent dialog")
			}
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for _, m := range tc.sent {
					raw, _ := json.Marshal(m)
					if nativemsg.WriteFrame(b.toIn, raw) != nil {
						return
					}
				}
			}()
			select {
			case <-sent:
			case <-time.After(5 * time.Second):
				// The host reads no further while a frame waits: the
				// browser's pipe would hold the rest.
			}
			b.toIn.Close()
			waitDialogClosed(t, pr)
			b.exit()
			var got []map[string]any
			for m := range b.inbox {
				got = append(got, m)
			}
			if len(tc.sent) > 0 {
				if len(got) != 1 || got[0]["event"] != "refused" {
					t.Fatalf("host sent %v, want one refused event and no answer", got)
				}
			}
		})
	}
}

// Requests a page sends before hello wait for the user's answer and are
// served once the session begins, in order; more than a session may have
// pending refuse it.
func TestHostRequestsBeforeHello(t *testing.T) {
	t.Run("served after consent", func(t *testing.T) {
		hold := make(chan struct{})
		pr := &bridgetest.Prompter{}
		pr.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.AllowOnce, Hold: hold})
		opened := pr.Opened()
		core := newCore(t, pr, false)
		b := startHost(t, serveWith(core))
		b.send(open(testOrigin))
		<-opened
		b.send(map[string]any{"id": 1, "method": "version"})
		b.send(map[string]any{"id": 2, "method": "readers"})
		close(hold)
		if m := b.recv(); m["event"] != "hello" {
			t.Fatalf("first message %v, want hello", m)
		}
		for _, id := range []float64{1, 2} {
			if r := b.answer(id); r["result"] == nil {
				t.Fatalf("request %v: %v", id, r)
			}
		}
		b.toIn.Close()
		if err := b.exit(); err != nil {
			t.Fatalf("host ended with %v", err)
		}
	})
	t.Run("too many", func(t *testing.T) {
		pr := &bridgetest.Prompter{}
		pr.Push(bridgetest.Consent, bridgetest.Answer{Block: true})
		opened := pr.Opened()
		core := newCore(t, pr, false)
		b := startHost(t, serveWith(core))
		b.send(open(testOrigin))
		<-opened
		for i := range core.Limits().MaxPending + 1 {
			b.send(map[string]any{"id": i, "method": "version"})
		}
		m := b.recv()
		if d, _ := m["data"].(map[string]any); m["event"] != "refused" || d["code"] != "TOO_MANY_PENDING" {
			t.Fatalf("got %v, want refused TOO_MANY_PENDING", m)
		}
		waitDialogClosed(t, pr)
		if err := b.exit(); err == nil {
			t.Fatal("host ended without error")
		}
	})
}

// waitDialogClosed waits until the one dialog pr showed was closed under
// the user.
func waitDialogClosed(t *testing.T, pr *bridgetest.Prompter) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := pr.Calls()
		if len(c) == 1 && c[0].Closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dialog still open after the session ended: %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHostMessageTooLarge(t *testing.T) {
	core := newCore(t, &bridgetest.Prompter{}, false, func(c *bridge.Config) { c.AllowedOrigins = []string{testOrigin} })
	b := startHost(t, serveWith(core))
	b.send(open(testOrigin))
	if m := b.recv(); m["event"] != "hello" {
		t.Fatalf("got %v", m)
	}
	big := `{"id":1,"method":"version","params":{"x":"` + strings.Repeat("a", 64<<10) + `"}}`
	// The host reads no more than the length of an oversized message, as
	// a browser's pipe would hold the rest: send it from aside.
	go nativemsg.WriteFrame(b.toIn, []byte(big))
	m := b.recv()
	if e, _ := m["error"].(map[string]any); e == nil || e["code"] != "MESSAGE_TOO_LARGE" {
		t.Fatalf("got %v, want MESSAGE_TOO_LARGE", m)
	}
	if err := b.exit(); err != nil {
		t.Fatalf("host ended with %v", err)
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	if err := nativemsg.WriteFrame(&buf, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if got := binary.NativeEndian.Uint32(buf.Bytes()); got != 7 {
		t.Fatalf("length prefix %d, want 7 in native byte order", got)
	}
	if err := nativemsg.WriteFrame(io.Discard, make([]byte, nativemsg.MaxToBrowser+1)); !errors.Is(err, nativemsg.ErrFrameTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	if err := nativemsg.WriteFrame(io.Discard, make([]byte, nativemsg.MaxToBrowser)); err != nil {
		t.Fatalf("write at the limit: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"half a length", []byte{1, 0}, nativemsg.ErrTruncated},
		{"short body", append(le(10), "abc"...), nativemsg.ErrTruncated},
		{"huge length", le(0xffffffff), nativemsg.ErrFrameTooLarge},
	} {
		_, err := nativemsg.ReadFrame(bytes.NewReader(tc.in), 64<<10)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func le(n uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, n)
	return b
}

// A response over the browser's 1 MiB limit is replaced by a
// MESSAGE_TOO_LARGE error under its id; an oversized event is dropped.
// The browser would otherwise end the session on it.
func TestHostAnswerTooLarge(t *testing.T) {
	var out bytes.Buffer
	st := nativemsg.NewTestStream(strings.NewReader(""), &out, 64<<10, slog.New(slog.DiscardHandler))
	big := `{"id":"r7","result":{"photo":"` + strings.Repeat("A", nativemsg.MaxToBrowser) + `"}}`
	if err := st.WriteMessage([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteMessage([]byte(`{"event":"readers","data":{"x":"` + strings.Repeat("A", nativemsg.MaxToBrowser) + `"}}`)); err != nil {
		t.Fatal(err)
	}
	msg, err := nativemsg.ReadFrame(&out, nativemsg.MaxToBrowser)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID    string `json:"id"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(msg, &m) != nil || m.ID != "r7" || m.Error.Code != "MESSAGE_TOO_LARGE" {
		t.Fatalf("got %s", msg)
	}
	if out.Len() != 0 {
		t.Fatalf("the oversized event was sent: %d more bytes", out.Len())
	}
}
