package prompt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/cardbridge/cardbridge/bridge"
)

// TestDocumentNameMarksAndFillers is issue 10 item 6: a page's document
// name stacked with combining marks draws over the lines around it, and
// invisible fillers (U+3164 and its kin) pass as an empty or padded name.
func TestDocumentNameMarksAndFillers(t *testing.T) {
	marks := func(s string) (most int) {
		run := 0
		for _, r := range s {
			if unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) {
				run++
				most = max(most, run)
			} else {
				run = 0
			}
		}
		return most
	}
	tests := []struct {
		name, in, want string
	}{
		{"192 stacked marks", "a" + strings.Repeat("\u0301", 192) + ".pdf", "a\u0301\u0301.pdf"},
		{"marks with no base", strings.Repeat("\u0336", 50) + "x", "x"},
		{"Vietnamese keeps its two marks", "Hợp đồng", "Hợp đồng"},
		{"NFD Vietnamese", "o\u0323\u0302", "o\u0323\u0302"},
		{"hangul fillers", strings.Repeat("\u3164", 150), ""},
		{"fillers of every kind", "a\u115Fb\u1160c\uFFA0d\u3164e\u034Ff\uFE0Fg\U000E0041h\u180Bi", "abcdefghi"},
		{"filler padding between words", "Lease" + strings.Repeat("\u3164 ", 60) + "bank.example", "Lease bank.example"},
		{"space runs collapse", "a" + strings.Repeat(" ", 100) + "b", "a b"},
	}
	for _, tt := range tests {
		got := DisplayText(tt.in, 200)
		if got != tt.want {
			t.Errorf("%s: DisplayText = %+q, want %+q", tt.name, got, tt.want)
		}
		if m := marks(got); m > maxMarksPerBase {
			t.Errorf("%s: %d stacked marks kept", tt.name, m)
		}
	}
}

// TestSignatureDialogDocumentLast is issue 10 item 6: the document name
// is on a line of its own, below the origin and the digest, so that
// nothing it holds can sit on or above them.
func TestSignatureDialogDocumentLast(t *testing.T) {
	f := &fakeDialogs{answers: []Answer{AnswerCancel}}
	p := New(Options{Dialogs: f, Language: "en"})
	doc := "Lease" + strings.Repeat("\u0301", 50) + strings.Repeat("\u3164", 20)
	p.ConfirmSignature(context.Background(), bridge.SignatureRequest{Origin: "https://sign.example",
		DocumentName: doc, HashAlgorithm: "SHA-256", DigestHex: strings.Repeat("ab", 32)})
	text := f.questions[0].Text
	lines := strings.Split(text, "\n")
	at := func(sub string) int {
		for i, l := range lines {
			if strings.Contains(l, sub) {
				return i
			}
		}
		t.Fatalf("no line with %q in %q", sub, text)
		return -1
	}
	origin, digest, name := at("https://sign.example"), at("abababab"), at("Lease")
	if lines[name] != "Lease\u0301\u0301" {
		t.Errorf("document name line %+q, want the name alone", lines[name])
	}
	if name < origin || name < digest {
		t.Errorf("document name on line %d, before the origin (%d) or digest (%d):\n%s", name, origin, digest, text)
	}
}

// TestDisplayOriginKeepsRegistrableDomain is issue 10 item 9: a long
// origin must never be cut inside the domain that owns it.
func TestDisplayOriginKeepsRegistrableDomain(t *testing.T) {
	label := strings.Repeat("x", 63)
	tests := []struct{ origin, owner string }{
		// The registrable domain alone is longer than the display bound.
		{"https://" + label + ".s3.dualstack.ap-northeast-1.amazonaws.com", label + ".s3.dualstack.ap-northeast-1.amazonaws.com"},
		{"https://www.bank.example." + label + "." + label[:40] + ".co.uk:8443", label[:40] + ".co.uk:8443"},
		{"https://login.bank.example." + label + ".evil.example", ".evil.example"},
		// Refused by config (label over 63): still shown with its end.
		{"https://www.bank.example." + label + "y.evil.example", "evil.example"},
	}
	for _, tt := range tests {
		got := DisplayOrigin(tt.origin)
		if !strings.HasSuffix(got, tt.owner) {
			t.Errorf("DisplayOrigin(%q) = %q: owner %q cut", tt.origin, got, tt.owner)
		}
		if !strings.HasPrefix(got, "https://") {
			t.Errorf("DisplayOrigin(%q) = %q: scheme lost", tt.origin, got)
		}
		if strings.Contains(got, "bank.example") {
			t.Errorf("DisplayOrigin(%q) = %q still shows the look-alike start and hides nothing", tt.origin, got)
		}
	}
}

// TestBlockThisSiteOffered: after repeated refusals the bridge asks the
// dialogs to offer blocking the site; choosing it is ErrBlockSite.
func TestBlockThisSiteOffered(t *testing.T) {
	for _, lang := range []string{"en", "nl", "fr", "de"} {
		f := &fakeDialogs{answers: []Answer{AnswerExtra, AnswerExtra}, err: nil}
		p := New(Options{Dialogs: f, Language: lang})
		ok, err := p.ConfirmSignature(context.Background(), bridge.SignatureRequest{Origin: "https://a.example", OfferBlock: true})
		if ok || !errors.Is(err, bridge.ErrBlockSite) {
			t.Errorf("%s: block chosen in the signature dialog: %v, %v", lang, ok, err)
		}
		ok, err = p.ConfirmLastTry(context.Background(), bridge.PINRequest{Origin: "https://a.example", TriesLeft: 1, OfferBlock: true})
		if ok || !errors.Is(err, bridge.ErrBlockSite) {
			t.Errorf("%s: block chosen in the last-try dialog: %v, %v", lang, ok, err)
		}
		for _, q := range f.questions {
			if q.Extra == "" || q.Extra == "block.site" || !strings.Contains(q.Text, "https://a.example") {
				t.Errorf("%s: dialog %+v", lang, q)
			}
		}
	}
	// Not offered: no third button.
	f := &fakeDialogs{answers: []Answer{AnswerCancel}}
	New(Options{Dialogs: f, Language: "en"}).ConfirmSignature(context.Background(), bridge.SignatureRequest{Origin: "https://a.example"})
	if f.questions[0].Extra != "" {
		t.Errorf("block offered unasked: %q", f.questions[0].Extra)
	}
}

// TestPinpadNotice: the notice names the site and lasts until the entry
// ends.
func TestPinpadNotice(t *testing.T) {
	f := &fakeDialogs{}
	p := New(Options{Dialogs: f, Language: "fr"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.PinpadNotice(ctx, bridge.PINRequest{Origin: "https://registration.smart-id.com", Purpose: bridge.PurposeAuthenticate})
	}()
	select {
	case <-done:
		t.Fatal("the notice returned before the entry ended")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	<-done
	if len(f.notices) != 1 || !strings.Contains(f.notices[0].Text, "https://registration.smart-id.com") ||
		!strings.Contains(f.notices[0].Text, "clavier du lecteur") {
		t.Errorf("notices %+v", f.notices)
	}
}
