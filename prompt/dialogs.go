package prompt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/ncruces/zenity"
)

// ErrDismissed is returned by a Dialogs backend when the user closed the
// dialog without choosing (Escape, the window's close button) or pressed
// the cancel button of an entry dialog.
var ErrDismissed = errors.New("prompt: dialog dismissed")

// ErrNoDialogs reports that the backend cannot show dialogs at all (on
// Linux: no zenity program or no display). The bridge then fails the
// request; nothing is ever allowed without an answer.
var ErrNoDialogs = errors.New("prompt: cannot show native dialogs")

// Answer is the button chosen in a Question.
type Answer int

// Answers to a Question.
const (
	AnswerCancel Answer = iota // the cancel button
	AnswerOK                   // the OK button
	AnswerExtra                // the extra button
)

// Question is a message with two or three buttons.
type Question struct {
	Title, Text string
	OK, Cancel  string
	Extra       string // optional third button
	Warning     bool   // show a warning icon
}

// Entry is a masked one-line text entry.
type Entry struct {
	Title, Text string
	OK, Cancel  string
	Extra       string // optional third button: SecretEntry returns ErrExtra
}

// ErrExtra is returned by SecretEntry when the user pressed the entry's
// extra button.
var ErrExtra = errors.New("prompt: extra button chosen")

// Message is a dialog without input: a text and one button that closes
// it.
type Message struct {
	Title, Text string
	OK          string
}

// Dialogs draws modal dialogs. Implementations must return promptly once
// ctx is done, closing the dialog. Tests substitute a scripted backend.
type Dialogs interface {
	Question(ctx context.Context, q Question) (Answer, error)
	SecretEntry(ctx context.Context, e Entry) (string, error)
	// Notice shows m until ctx ends or the user closes it.
	Notice(ctx context.Context, m Message) error
}

// Zenity is the Dialogs backend over github.com/ncruces/zenity.
//
// On Linux every dialog is a separate zenity process: closing a dialog on
// ctx cancellation kills that process, which cannot leave the daemon in a
// bad state, and a crash of the toolkit cannot take the daemon down.
type Zenity struct{}

// The cancel button is the default in questions so that a stray Enter
// never grants access or signs.
func (Zenity) Question(ctx context.Context, q Question) (Answer, error) {
	importSessionEnvOS(ctx)
	opts := []zenity.Option{
		zenity.Context(ctx),
		zenity.Title(q.Title),
		zenity.OKLabel(q.OK),
		zenity.CancelLabel(q.Cancel),
		zenity.DefaultCancel(),
		zenity.NoWrap(),
	}
	if q.Extra != "" {
		opts = append(opts, zenity.ExtraButton(q.Extra))
	}
	if q.Warning {
		opts = append(opts, zenity.Icon(zenity.WarningIcon))
	} else {
		opts = append(opts, zenity.Icon(zenity.QuestionIcon))
	}
	err := zenity.Question(q.Text, opts...)
	switch {
	case err == nil:
		return AnswerOK, nil
	case errors.Is(err, zenity.ErrExtraButton):
		return AnswerExtra, nil
	case errors.Is(err, zenity.ErrCanceled):
		return AnswerCancel, nil
	}
	return AnswerCancel, zenityError(ctx, err)
}

// SecretEntry shows an entry whose text is masked.
func (Zenity) SecretEntry(ctx context.Context, e Entry) (string, error) {
	importSessionEnvOS(ctx)
	opts := []zenity.Option{
		zenity.Context(ctx),
		zenity.Title(e.Title),
		zenity.OKLabel(e.OK),
		zenity.CancelLabel(e.Cancel),
		zenity.HideText(),
	}
	if e.Extra != "" {
		opts = append(opts, zenity.ExtraButton(e.Extra))
	}
	s, err := zenity.Entry(entryText(runtime.GOOS, e.Text), opts...)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, zenity.ErrExtraButton):
		return "", ErrExtra
	case errors.Is(err, zenity.ErrCanceled):
		return "", ErrDismissed
	}
	return "", zenityError(ctx, err)
}

// Notice shows an information dialog until ctx ends (the process is
// killed, closing the window) or the user closes it.
func (Zenity) Notice(ctx context.Context, m Message) error {
	importSessionEnvOS(ctx)
	err := zenity.Info(m.Text,
		zenity.Context(ctx),
		zenity.Title(m.Title),
		zenity.OKLabel(m.OK),
		zenity.NoWrap(),
		zenity.Icon(zenity.InfoIcon),
	)
	if err == nil || errors.Is(err, zenity.ErrCanceled) || ctx.Err() != nil {
		return nil // closed by the user, or at the end of what it tells
	}
	return zenityError(ctx, err)
}

// entryText protects an entry dialog's text from the zenity program
// (Linux, BSD), which runs it through g_strcompress: a page's document
// name holding the characters `\n` or `\342\200\256` would otherwise
// become line breaks or a bidi override in the PIN dialog, which
// DisplayText has removed from the real characters. (Question dialogs
// are shown with --no-markup, which zenity leaves alone.)
func entryText(goos, text string) string {
	if goos == "windows" || goos == "darwin" {
		return text
	}
	return strings.ReplaceAll(text, `\`, `\\`)
}

func zenityError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !zenity.IsAvailable() {
		return fmt.Errorf("%w: %w", ErrNoDialogs, err)
	}
	return err
}
