package prompt

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
)

// fakeDialogs answers from scripts and records what it was shown.
type fakeDialogs struct {
	mu        sync.Mutex
	answers   []Answer
	entries   []string
	err       error
	block     bool // wait for ctx instead of answering
	questions []Question
	shown     []Entry
	notices   []Message
}

func (f *fakeDialogs) Notice(ctx context.Context, m Message) error {
	f.mu.Lock()
	f.notices = append(f.notices, m)
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (f *fakeDialogs) Question(ctx context.Context, q Question) (Answer, error) {
	f.mu.Lock()
	f.questions = append(f.questions, q)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return AnswerCancel, ctx.Err()
	}
	if f.err != nil {
		return AnswerCancel, f.err
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a, nil
}

func (f *fakeDialogs) SecretEntry(ctx context.Context, e Entry) (string, error) {
	f.mu.Lock()
	f.shown = append(f.shown, e)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if f.err != nil {
		return "", f.err
	}
	s := f.entries[0]
	f.entries = f.entries[1:]
	return s, nil
}

func TestConsentDecisions(t *testing.T) {
	tests := []struct {
		answer Answer
		want   bridge.ConsentDecision
	}{
		{AnswerOK, bridge.AllowOnce},
		{AnswerExtra, bridge.AllowAlways},
		{AnswerCancel, bridge.Deny},
	}
	for _, tt := range tests {
		f := &fakeDialogs{answers: []Answer{tt.answer}}
		p := New(Options{Dialogs: f, Language: "en"})
		got, err := p.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://Portal.Example"})
		if err != nil || got != tt.want {
			t.Errorf("answer %v: got %v, %v; want %v", tt.answer, got, err, tt.want)
		}
		q := f.questions[0]
		if !strings.Contains(q.Text, "https://portal.example") {
			t.Errorf("consent text does not show the origin: %q", q.Text)
		}
		if q.OK != "Allow once" || q.Extra != "Always allow this website" || q.Cancel != "Deny" {
			t.Errorf("buttons %q %q %q", q.OK, q.Extra, q.Cancel)
		}
	}
}

func TestLanguages(t *testing.T) {
	for lang, want := range map[string]string{"nl": "Weigeren", "fr": "Refuser", "de": "Ablehnen", "en": "Deny"} {
		f := &fakeDialogs{answers: []Answer{AnswerCancel}}
		p := New(Options{Dialogs: f, Language: lang})
		p.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://a.example"})
		if f.questions[0].Cancel != want {
			t.Errorf("%s: deny button %q, want %q", lang, f.questions[0].Cancel, want)
		}
	}
	t.Setenv("LC_ALL", "fr_BE.UTF-8")
	if l := New(Options{Dialogs: &fakeDialogs{}}).Lang(); l != "fr" {
		t.Errorf("OS locale not used: %v", l)
	}
}

func TestPINReasksOnBadFormat(t *testing.T) {
	f := &fakeDialogs{entries: []string{"12", "12a4", "1234567890123", " 1234", "1234"}}
	var logs bytes.Buffer
	p := New(Options{Dialogs: f, Language: "en", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	pin, err := p.PIN(context.Background(), bridge.PINRequest{Origin: "https://a.example", Purpose: bridge.PurposeAuthenticate, TriesLeft: 3})
	if err != nil || string(pin) != "1234" {
		t.Fatalf("PIN = %q, %v", pin, err)
	}
	if len(f.shown) != 5 {
		t.Fatalf("asked %d times, want 5", len(f.shown))
	}
	if strings.Contains(f.shown[0].Text, "4 to 12 digits") {
		t.Error("first dialog already complains")
	}
	for _, e := range f.shown[1:] {
		if !strings.Contains(e.Text, "must be 4 to 12 digits") {
			t.Errorf("re-ask without explanation: %q", e.Text)
		}
	}
	first := f.shown[0].Text
	for _, want := range []string{"https://a.example", "log you in", "3 tries left"} {
		if !strings.Contains(first, want) {
			t.Errorf("PIN text lacks %q: %q", want, first)
		}
	}
	if strings.Contains(logs.String(), "1234") || strings.Contains(logs.String(), "12a4") {
		t.Errorf("PIN in logs: %s", logs.String())
	}
}

func TestPINLastTryAndDocument(t *testing.T) {
	f := &fakeDialogs{entries: []string{"123456"}}
	p := New(Options{Dialogs: f, Language: "nl"})
	p.PIN(context.Background(), bridge.PINRequest{Origin: "https://a.example", Purpose: bridge.PurposeSign, TriesLeft: 1, DocumentName: "contract\u202e.pdf"})
	text := f.shown[0].Text
	for _, want := range []string{"laatste poging", "een document te ondertekenen", "Document: contract.pdf"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q: %q", want, text)
		}
	}
}

func TestCancelAndTimeout(t *testing.T) {
	// Dismissed by the user.
	p := New(Options{Dialogs: &fakeDialogs{err: ErrDismissed}})
	if _, err := p.PIN(context.Background(), bridge.PINRequest{}); !errors.Is(err, bridge.ErrPromptCancelled) {
		t.Errorf("dismissed PIN: %v", err)
	}
	// Timed out: counts as cancelled.
	p = New(Options{Dialogs: &fakeDialogs{block: true}, Timeout: 20 * time.Millisecond})
	start := time.Now()
	d, err := p.Consent(context.Background(), bridge.ConsentRequest{Origin: "https://a.example"})
	if !errors.Is(err, bridge.ErrPromptCancelled) || d != bridge.Deny {
		t.Errorf("timed-out consent: %v, %v", d, err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("timeout not applied")
	}
	// Page disconnected: ctx cancelled closes the dialog.
	ctx, cancel := context.WithCancelCause(context.Background())
	pageGone := errors.New("page gone")
	go func() { time.Sleep(10 * time.Millisecond); cancel(pageGone) }()
	p = New(Options{Dialogs: &fakeDialogs{block: true}})
	ok, err := p.ConfirmSignature(ctx, bridge.SignatureRequest{Origin: "https://a.example"})
	if ok || !errors.Is(err, bridge.ErrPromptCancelled) || !errors.Is(err, pageGone) {
		t.Errorf("cancelled signature: %v, %v", ok, err)
	}
	// Backend failure is an error, never an approval.
	boom := errors.New("no display")
	p = New(Options{Dialogs: &fakeDialogs{err: boom}})
	if ok, err := p.ConfirmLastTry(context.Background(), bridge.PINRequest{}); ok || !errors.Is(err, boom) {
		t.Errorf("backend failure: %v, %v", ok, err)
	}
}

func TestConfirmSignature(t *testing.T) {
	f := &fakeDialogs{answers: []Answer{AnswerOK, AnswerCancel}}
	p := New(Options{Dialogs: f, Language: "en"})
	req := bridge.SignatureRequest{Origin: "https://sign.example", DocumentName: "Lease.pdf", HashAlgorithm: "SHA-256",
		DigestHex: strings.Repeat("AB", 32)}
	if ok, err := p.ConfirmSignature(context.Background(), req); !ok || err != nil {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	if ok, _ := p.ConfirmSignature(context.Background(), req); ok {
		t.Fatal("cancel counted as confirmation")
	}
	text := f.questions[0].Text
	for _, want := range []string{"https://sign.example", "Lease.pdf", "SHA-256", "abababab abababab abababab abababab\nabababab"} {
		if !strings.Contains(text, want) {
			t.Errorf("signature text lacks %q: %q", want, text)
		}
	}
	if f.questions[0].OK != "Sign" {
		t.Errorf("OK button %q", f.questions[0].OK)
	}
}

func TestConfirmLastTry(t *testing.T) {
	f := &fakeDialogs{answers: []Answer{AnswerOK}}
	p := New(Options{Dialogs: f, Language: "de"})
	ok, err := p.ConfirmLastTry(context.Background(), bridge.PINRequest{Origin: "https://a.example", TriesLeft: 1})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if !f.questions[0].Warning || !strings.Contains(f.questions[0].Text, "PUK") {
		t.Errorf("last-try dialog: %+v", f.questions[0])
	}
}

func TestValidPIN(t *testing.T) {
	for pin, want := range map[string]bool{
		"1234": true, "123456789012": true, "123": false, "1234567890123": false,
		"12a4": false, "": false, "١٢٣٤": false, "1234\n": false,
	} {
		if ValidPIN(pin) != want {
			t.Errorf("ValidPIN(%q) = %v", pin, !want)
		}
	}
}

func TestDisplayOrigin(t *testing.T) {
	long := "https://" + strings.Repeat("a", 60) + ".evil.example"
	tests := []struct{ in, want string }{
		{"https://Portal.Example:443", "https://portal.example"},
		{"https://xn--80ak6aa92e.com", "https://xn--80ak6aa92e.com"},
		{"https://аррӏе.com", "https://??????????.com"},
		{"https://a.example\n\nhttps://bank.example", "https://a.example??https://bank.example"},
		{"", "(?)"},
		{long, "https://…" + long[len(long)-(80-len("https://…")):]},
	}
	for _, tt := range tests {
		if got := DisplayOrigin(tt.in); got != tt.want {
			t.Errorf("DisplayOrigin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := DisplayOrigin(long); !strings.HasSuffix(got, ".evil.example") || len(got) > 82 {
		t.Errorf("long origin shown as %q", got)
	}
	if got := DisplayOrigin(strings.Repeat("x", 500)); len(got) > 84 {
		t.Errorf("garbage origin not cut: %d", len(got))
	}
}

func TestDisplayText(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Contrat signé.pdf", 200, "Contrat signé.pdf"},
		{"a\nb\tc", 200, "a b c"},
		{"invoice\u202efdp.exe", 200, "invoicefdp.exe"},
		{"zero\u200bwidth", 200, "zerowidth"},
		{"abcdef", 3, "abc…"},
		{"bad\xffutf8", 200, "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		if got := DisplayText(tt.in, tt.max); got != tt.want {
			t.Errorf("DisplayText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEntryTextEscapesBackslashes(t *testing.T) {
	// zenity's entry dialog expands C escapes (g_strcompress): a page's
	// document name must not turn into line breaks or bidi overrides.
	doc := `x\n\nhttps://bank.example asks \342\200\256 \\`
	if got, want := entryText("linux", doc), `x\\n\\nhttps://bank.example asks \\342\\200\\256 \\\\`; got != want {
		t.Errorf("linux: %q, want %q", got, want)
	}
	for _, goos := range []string{"windows", "darwin"} {
		if got := entryText(goos, doc); got != doc {
			t.Errorf("%s: %q changed to %q", goos, doc, got)
		}
	}
}
