// Package prompt is cardbridge's native Prompter: the consent, PIN,
// signature and last-try dialogs the user answers, shown by the operating
// system and never by the web page.
//
// Dialogs are drawn by a Dialogs backend. The default, Zenity, uses
// github.com/ncruces/zenity: on Linux it runs the zenity (or qarma,
// matedialog) program, on Windows and macOS it calls the native dialog
// APIs. Every dialog shows the requesting origin, closes when the request's
// context ends (the page disconnected or cancelled), and counts as
// cancelled after a timeout.
package prompt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/prompt/i18n"
)

// DefaultTimeout bounds each prompt when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// PIN length limits of the Belgian eID (the card accepts 4 to 12 digits).
const (
	MinPINLength = 4
	MaxPINLength = 12
)

// Options configure a Prompter.
type Options struct {
	// Timeout bounds each prompt (all re-asks of one PIN prompt
	// included); on expiry the prompt counts as cancelled.
	Timeout time.Duration
	// Language is "en", "nl", "fr", "de", or "" for the OS locale.
	Language string
	// Dialogs draws the dialogs; nil means Zenity{}.
	Dialogs Dialogs
	// Logger receives one line per prompt outcome (never the PIN); nil
	// means no logging.
	Logger *slog.Logger
}

// Prompter implements bridge.Prompter with native dialogs. It is safe for
// concurrent use, though the bridge shows one dialog at a time.
type Prompter struct {
	dialogs Dialogs
	timeout time.Duration
	lang    i18n.Lang
	log     *slog.Logger
}

var _ bridge.Prompter = (*Prompter)(nil)

// New returns a Prompter.
func New(opts Options) *Prompter {
	p := &Prompter{
		dialogs: opts.Dialogs,
		timeout: opts.Timeout,
		lang:    i18n.Choose(opts.Language),
		log:     opts.Logger,
	}
	if p.dialogs == nil {
		p.dialogs = Zenity{}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// Lang returns the language the dialogs use.
func (p *Prompter) Lang() i18n.Lang { return p.lang }

// withTimeout derives the prompt's context. The returned finish maps the
// dialog's error: our own timeout and a user dismissal become
// bridge.ErrPromptCancelled; the caller's cancellation (page gone) is
// reported as ErrPromptCancelled wrapping the cause, so errors.Is works
// for both.
func (p *Prompter) withTimeout(ctx context.Context) (context.Context, func(error) error, context.CancelFunc) {
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	finish := func(err error) error {
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%w: %w", bridge.ErrPromptCancelled, context.Cause(ctx))
		case pctx.Err() != nil:
			return fmt.Errorf("%w: no answer within %v", bridge.ErrPromptCancelled, p.timeout)
		case errors.Is(err, ErrDismissed):
			return bridge.ErrPromptCancelled
		}
		return fmt.Errorf("prompt: %w", err)
	}
	return pctx, finish, cancel
}

// Consent asks whether req.Origin may use the ID card.
func (p *Prompter) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	pctx, finish, cancel := p.withTimeout(ctx)
	defer cancel()
	origin := DisplayOrigin(req.Origin)
	ans, err := p.dialogs.Question(pctx, Question{
		Title:  p.lang.T("consent.title"),
		Text:   p.lang.T("consent.text", origin),
		OK:     p.lang.T("consent.once"),
		Extra:  p.lang.T("consent.always"),
		Cancel: p.lang.T("consent.deny"),
	})
	if err = finish(err); err != nil {
		// A dismissed consent dialog (Escape, window closed, timeout)
		// is a refusal, reported as cancelled so the page can tell.
		p.log.Info("consent prompt", "origin", origin, "outcome", "cancelled", "err", err)
		return bridge.Deny, err
	}
	d := bridge.Deny
	switch ans {
	case AnswerOK:
		d = bridge.AllowOnce
	case AnswerExtra:
		d = bridge.AllowAlways
	}
	p.log.Info("consent prompt", "origin", origin, "outcome", d.String())
	return d, nil
}

// PIN asks for the PIN. Input that is not 4 to 12 digits is refused in the
// dialog and asked again: it never reaches the card, so it costs no try.
//
// The zenity backend hands the PIN over as a Go string, which cannot be
// wiped; the returned slice is a copy the caller wipes after use.
func (p *Prompter) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	pctx, finish, cancel := p.withTimeout(ctx)
	defer cancel()
	origin := DisplayOrigin(req.Origin)
	var lines []string
	lines = append(lines, p.lang.T("pin.text", origin, p.purpose(req.Purpose)))
	if req.DocumentName != "" {
		lines = append(lines, p.lang.T("pin.document", DisplayText(req.DocumentName, 120)))
	}
	switch {
	case req.TriesLeft == 1:
		lines = append(lines, p.lang.T("pin.tries1"))
	case req.TriesLeft > 1:
		lines = append(lines, p.lang.T("pin.tries", req.TriesLeft))
	}
	if req.OfferBlock {
		lines = append(lines, p.lang.T("block.note"))
	}
	base := strings.Join(lines, "\n\n")
	text := base + "\n\n" + p.lang.T("pin.enter")
	for attempt := 1; ; attempt++ {
		pin, err := p.dialogs.SecretEntry(pctx, Entry{
			Title:  p.lang.T("pin.title"),
			Text:   text,
			OK:     p.lang.T("ok"),
			Cancel: p.lang.T("cancel"),
			Extra:  p.blockButton(req.OfferBlock),
		})
		if errors.Is(err, ErrExtra) {
			p.log.Info("PIN prompt", "origin", origin, "purpose", req.Purpose, "outcome", "block-site")
			return nil, bridge.ErrBlockSite
		}
		if err = finish(err); err != nil {
			p.log.Info("PIN prompt", "origin", origin, "purpose", req.Purpose, "outcome", "cancelled", "err", err)
			return nil, err
		}
		if ValidPIN(pin) {
			p.log.Info("PIN prompt", "origin", origin, "purpose", req.Purpose, "outcome", "entered", "attempts", attempt)
			return []byte(pin), nil
		}
		p.log.Info("PIN prompt", "origin", origin, "purpose", req.Purpose, "outcome", "bad-format")
		text = p.lang.T("pin.badformat") + "\n\n" + base + "\n\n" + p.lang.T("pin.enter")
	}
}

// ConfirmSignature shows what will be signed: the origin, the document
// name if the page gave one, and the digest in hex.
func (p *Prompter) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	pctx, finish, cancel := p.withTimeout(ctx)
	defer cancel()
	origin := DisplayOrigin(req.Origin)
	doc := p.lang.T("sign.nodocument")
	if req.DocumentName != "" {
		doc = p.lang.T("sign.document", DisplayText(req.DocumentName, 200))
	}
	// The page's document name comes last but for the legal notice, on
	// its own line: whatever survives DisplayText of it cannot sit on
	// the origin or the digest.
	parts := []string{
		p.lang.T("sign.text", origin),
		p.lang.T("sign.digest", DisplayText(req.HashAlgorithm, 16), FormatDigest(req.DigestHex)),
		doc,
		p.lang.T("sign.legal"),
	}
	if req.OfferBlock {
		parts = append(parts, p.lang.T("block.note"))
	}
	ans, err := p.dialogs.Question(pctx, Question{
		Title:  p.lang.T("sign.title"),
		Text:   strings.Join(parts, "\n\n"),
		OK:     p.lang.T("sign.ok"),
		Cancel: p.lang.T("cancel"),
		Extra:  p.blockButton(req.OfferBlock),
	})
	if err == nil && ans == AnswerExtra {
		p.log.Info("signature prompt", "origin", origin, "outcome", "block-site")
		return false, bridge.ErrBlockSite
	}
	if err = finish(err); err != nil {
		p.log.Info("signature prompt", "origin", origin, "outcome", "cancelled", "err", err)
		return false, err
	}
	p.log.Info("signature prompt", "origin", origin, "confirmed", ans == AnswerOK)
	return ans == AnswerOK, nil
}

// ConfirmLastTry warns that a wrong PIN now blocks the card.
func (p *Prompter) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	pctx, finish, cancel := p.withTimeout(ctx)
	defer cancel()
	origin := DisplayOrigin(req.Origin)
	text := p.lang.T("lasttry.text", origin)
	if req.TriesLeft < 0 {
		text = p.lang.T("lasttry.unknown", origin) // applet 1.1
	}
	if req.OfferBlock {
		text += "\n\n" + p.lang.T("block.note")
	}
	ans, err := p.dialogs.Question(pctx, Question{
		Title:   p.lang.T("lasttry.title"),
		Text:    text,
		OK:      p.lang.T("lasttry.ok"),
		Cancel:  p.lang.T("cancel"),
		Extra:   p.blockButton(req.OfferBlock),
		Warning: true,
	})
	if err == nil && ans == AnswerExtra {
		p.log.Info("last-try prompt", "origin", origin, "outcome", "block-site")
		return false, bridge.ErrBlockSite
	}
	if err = finish(err); err != nil {
		p.log.Info("last-try prompt", "origin", origin, "outcome", "cancelled", "err", err)
		return false, err
	}
	p.log.Info("last-try prompt", "origin", origin, "confirmed", ans == AnswerOK)
	return ans == AnswerOK, nil
}

// PinpadNotice shows, for as long as ctx lasts (the keypad entry), a
// dialog without input naming the site that asks for the PIN on the
// reader: the reader's own display, if it has one, cannot.
func (p *Prompter) PinpadNotice(ctx context.Context, req bridge.PINRequest) error {
	origin := DisplayOrigin(req.Origin)
	p.log.Info("pinpad notice", "origin", origin, "purpose", req.Purpose)
	return p.dialogs.Notice(ctx, Message{
		Title: p.lang.T("pinpad.title"),
		Text:  p.lang.T("pinpad.text", origin, p.purpose(req.Purpose)),
		OK:    p.lang.T("ok"),
	})
}

// blockButton is the label of the "block this site" button, when offered.
func (p *Prompter) blockButton(offer bool) string {
	if !offer {
		return ""
	}
	return p.lang.T("block.site")
}

func (p *Prompter) purpose(s string) string {
	switch s {
	case bridge.PurposeAuthenticate, bridge.PurposeSign:
		return p.lang.T("purpose." + s)
	}
	return p.lang.T("purpose.verify")
}

// ValidPIN reports whether pin is 4 to 12 ASCII digits, the only PINs a
// Belgian eID accepts.
func ValidPIN(pin string) bool {
	if len(pin) < MinPINLength || len(pin) > MaxPINLength {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}
