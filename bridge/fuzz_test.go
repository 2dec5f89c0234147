package bridge

// Fuzz targets for what a page sends. Everything a page sends reaches
// conn.handle, which decodes one frame and answers it or starts a method;
// the targets drive it directly, without a socket, so that each input is a
// frame exactly as the read loop would pass it. Run one with, for example:
//
//	go test ./bridge -run='^$' -fuzz='^FuzzHandle$' -fuzztime=30s
//
// Crashers are kept in testdata/fuzz/<target>/ and replayed by plain go test.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

func FuzzCanonicalID(f *testing.F) {
	for _, s := range []string{`1`, `-1`, `0`, `007`, `1.5`, `1e3`, `"a"`, `"\u0041"`, `""`, `null`, `true`,
		`{}`, `[]`, `"` + strings.Repeat("x", 64) + `"`, `"` + strings.Repeat("é", 65) + `"`,
		`9223372036854775807`, `9223372036854775808`, ` 5 `, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, ok := canonicalID(raw)
		if !ok {
			if id != nil {
				t.Fatalf("canonicalID(%q) refused but returned %q", raw, id)
			}
			return
		}
		// The canonical form is canonical: a fixed point.
		again, ok := canonicalID(id)
		if !ok || !bytes.Equal(again, id) {
			t.Fatalf("canonicalID(%q) = %q, which canonicalises to %q, %v", raw, id, again, ok)
		}
		var v any
		if err := json.Unmarshal(id, &v); err != nil {
			t.Fatalf("canonicalID(%q) = %q is not JSON: %v", raw, id, err)
		}
		switch v := v.(type) {
		case string:
			if utf8.RuneCountInString(v) > maxIDLen {
				t.Fatalf("canonicalID accepted a %d-character id", utf8.RuneCountInString(v))
			}
		case float64:
		default:
			t.Fatalf("canonicalID(%q) = %q is a %T, not a string or number", raw, id, v)
		}
	})
}

func FuzzCanonicalOrigin(f *testing.F) {
	for _, s := range []string{"https://portal.example", "HTTPS://Portal.Example:443", "http://localhost:8080",
		"https://[::1]:8443", "https://a.example.", "https://user@a.example", "https://a.example/",
		"https://a.example?x", "https://a.example#f", "null", "", "file:///etc", "https://a.example:0",
		"https://a.example:65536", "https://xn--bcher-kva.example", "https:a.example", "https://a.example:+80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := CanonicalOrigin(s)
		if err != nil {
			if o != "" {
				t.Fatalf("CanonicalOrigin(%q) failed but returned %q", s, o)
			}
			return
		}
		again, err := CanonicalOrigin(o)
		if err != nil || again != o {
			t.Fatalf("CanonicalOrigin(%q) = %q, which canonicalises to %q, %v", s, o, again, err)
		}
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
			t.Fatalf("CanonicalOrigin(%q) = %q has another scheme", s, o)
		}
		if strings.ToLower(o) != o {
			t.Fatalf("CanonicalOrigin(%q) = %q is not lower case", s, o)
		}
		rest := o[strings.Index(o, "://")+3:]
		if rest == "" || strings.ContainsAny(rest, "/?#@ \t\r\n") {
			t.Fatalf("CanonicalOrigin(%q) = %q has more than a host and port", s, o)
		}
	})
}

// fuzzReaders is a Readers with one reader holding a simulated card. Its
// sessions record any command that spends a PIN try or makes a signature:
// no frame a page sends may cause one without the user (the fuzz server's
// prompter refuses everything).
type fuzzReaders struct {
	card *sim.Card
	mu   sync.Mutex
	bad  []string
}

const fuzzReader = "Virtual PCD 00 00"

func (r *fuzzReaders) List(ctx context.Context) ([]ReaderInfo, error) {
	return []ReaderInfo{{Name: fuzzReader, CardPresent: true, ATR: r.card.ATR()}}, ctx.Err()
}

func (r *fuzzReaders) Watch(ctx context.Context, known []ReaderInfo) ([]ReaderInfo, error) {
	list, _ := r.List(ctx)
	if !EqualReaders(list, known) {
		return list, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (r *fuzzReaders) Open(ctx context.Context, reader string) (CardSession, error) {
	if reader != fuzzReader {
		return nil, ErrNoReader
	}
	return &fuzzSession{r: r}, ctx.Err()
}

func (r *fuzzReaders) violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

type fuzzSession struct{ r *fuzzReaders }

func (s *fuzzSession) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	// VERIFY with data presents a PIN (an empty VERIFY asks for the tries
	// left); PSO: COMPUTE DIGITAL SIGNATURE signs.
	if len(cmd) > 5 && (cmd[1] == 0x20 || cmd[1] == 0x2A) {
		s.r.mu.Lock()
		s.r.bad = append(s.r.bad, fmt.Sprintf("% X", cmd[:4]))
		s.r.mu.Unlock()
	}
	return s.r.card.Transmit(ctx, cmd)
}

func (s *fuzzSession) Pinpad() beid.Pinpad { return nil }
func (s *fuzzSession) Close() error        { return nil }

// knownCodes are the protocol's error codes.
var knownCodes = map[Code]bool{
	CodeBadRequest: true, CodeUnknownMethod: true, CodeMessageTooLarge: true, CodeRateLimited: true,
	CodeTooManyPending: true, CodeTimeout: true, CodeCancelled: true, CodeOriginNotAllowed: true,
	CodeConsentDenied: true, CodeUserCancelled: true, CodeNoService: true, CodeNoReader: true,
	CodeNoCard: true, CodeCardRemoved: true, CodeUnknownCard: true, CodeAmbiguousReader: true,
	CodePINIncorrect: true, CodePINBlocked: true, CodePINLastTry: true, CodePinpadTimeout: true,
	CodeCardError: true, CodeBusy: true, CodeInternal: true,
}

const fuzzOrigin = "https://portal.example"

func FuzzHandle(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"method":"version"}`,
		`{"id":"a","method":"readers","params":{}}`,
		`{"id":2,"method":"card","params":null}`,
		`{"id":3,"method":"identity","params":{"reader":"Virtual PCD 00 00"}}`,
		`{"id":4,"method":"address","params":{"reader":"nope"}}`,
		`{"id":5,"method":"photo","params":{"reader":7}}`,
		`{"id":6,"method":"certificates"}`,
		`{"id":7,"method":"pin.verify"}`,
		`{"id":8,"method":"authenticate","params":{"challengeNonce":"` + strings.Repeat("n", 44) + `"}}`,
		`{"id":9,"method":"sign","params":{"digest":"` + strings.Repeat("A", 43) + `=","hashAlgorithm":"SHA-256","documentName":"x"}}`,
		`{"id":10,"method":"cancel","params":{"id":1}}`,
		`{"id":11,"method":"cancel","params":[]}`,
		`{"id":12,"method":"nope"}`,
		`{"id":1.5,"method":"version"}`,
		`{"id":"` + strings.Repeat("x", 65) + `","method":"version"}`,
		`{"method":"version"}`,
		`{"id":13}`,
		`{"id":14,"method":"version","params":"x"}`,
		`{"id":15,"method":"version","params":{"a":`,
		`[1,2]`, `null`, `"x"`, ``, `{`, "{\"id\":\"\\u0000\",\"method\":\"version\"}",
	} {
		f.Add([]byte(s))
	}
	pki, err := sim.NewPKI(sim.ProfileECC)
	if err != nil {
		f.Fatal(err)
	}
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: pki, PIN: "1234"})
	if err != nil {
		f.Fatal(err)
	}
	readers := &fuzzReaders{card: card}
	s, err := New(Config{
		Readers:        readers,
		AllowedOrigins: []string{fuzzOrigin}, // no consent dialog, so card methods run
		Limits:         Limits{RequestTimeout: 10 * time.Second, PromptTimeout: 10 * time.Second},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	f.Fuzz(func(t *testing.T, frame []byte) {
		st := &recordStream{}
		c := newSession(s.core, st, Session{Origin: fuzzOrigin, Transport: "fuzz"}, grantStanding)
		c.handle(frame)
		c.reqWG.Wait()
		s.core.hub.unsubscribe(c)
		c.cancel()
		c.wmu.Lock()
		//lint:ignore SA2001 the writes are done; taking the lock orders them before the reads below
		c.wmu.Unlock()
		got := st.got
		// Every frame gets exactly one answer.
		if len(got) != 1 {
			t.Fatalf("frame %q: %d answers, want 1: %q", frame, len(got), got)
		}
		var resp struct {
			ID     json.RawMessage  `json:"id"`
			Result *json.RawMessage `json:"result"`
			Error  *struct {
				Code    Code   `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(got[0], &resp); err != nil {
			t.Fatalf("frame %q: answer %q is not JSON: %v", frame, got[0], err)
		}
		if (resp.Result == nil) == (resp.Error == nil) {
			t.Fatalf("frame %q: answer %q has not exactly one of result and error", frame, got[0])
		}
		if resp.Error != nil && (!knownCodes[resp.Error.Code] || resp.Error.Message == "") {
			t.Fatalf("frame %q: answer %q has an unknown code or no message", frame, got[0])
		}
		if resp.Error != nil && resp.Error.Code == CodeInternal {
			t.Fatalf("frame %q: INTERNAL error %q: a page's input must never reach an internal failure", frame, got[0])
		}
		// The answer carries the request's id, canonicalised, whenever
		// the frame is a request object with a valid id. A frame that is
		// not (a method that is not a string, say) may be answered with
		// a null id, as JSON-RPC does.
		var req request
		wantID := json.RawMessage("null")
		var loose struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(frame, &loose) == nil {
			if id, ok := canonicalID(loose.ID); ok {
				wantID = id
			}
		}
		strict := json.Unmarshal(frame, &req) == nil
		if !bytes.Equal(resp.ID, wantID) && (strict || !bytes.Equal(resp.ID, json.RawMessage("null"))) {
			t.Fatalf("frame %q: answer id %s, want %s", frame, resp.ID, wantID)
		}
		if v := readers.violations(); len(v) > 0 || card.TriesLeft() != 3 {
			t.Fatalf("frame %q: PIN tries left %d; commands that need the user were sent: %q", frame, card.TriesLeft(), v)
		}
	})
}

// recordStream is a Stream that keeps what the session writes.
type recordStream struct{ got [][]byte }

func (r *recordStream) ReadMessage(int64) ([]byte, error) { return nil, io.EOF }

// WriteMessage is called under the session's write lock.
func (r *recordStream) WriteMessage(b []byte) error {
	r.got = append(r.got, bytes.Clone(b))
	return nil
}

func (r *recordStream) Close(CloseReason) error { return nil }
