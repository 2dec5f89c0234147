package prompt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/cardbridge/cardbridge/bridge"
)

// ErrNoTerminal reports that NewTerminal was given something other than an
// interactive terminal, or runs on a system whose terminal it cannot
// drive.
var ErrNoTerminal = errors.New("prompt: not an interactive terminal")

// ErrTerminalClosed is why a Terminal's prompts fail after Close.
var ErrTerminalClosed = errors.New("prompt: terminal prompter closed")

// Terminal is a bridge.Prompter that asks on the terminal the daemon runs
// in, for machines without a desktop. Answers other than an explicit yes
// refuse. Its questions are in English.
//
// One goroutine reads the terminal, line by line, and hands each line to
// the prompt that is waiting for it, if any. A prompt closed by its page
// stops waiting, and a line that no prompt waits for is wiped and
// dropped: it cannot answer the next question. Before each question the
// terminal's unread input is flushed, so that nothing typed before the
// question was shown answers it, and before each PIN question echo is
// turned off, so that a PIN typed early or late is never shown.
type Terminal struct {
	in  *os.File
	fd  int
	out io.Writer

	turn   chan struct{} // held by the prompt on screen
	reader sync.Once
	wake   waker         // ends the reader's wait, for Close
	done   chan struct{} // closed when the reader has stopped

	mu      sync.Mutex
	partial []byte      // start of a line longer than one read
	want    chan []byte // the waiting prompt's line, nil when none waits
	dead    error       // why the reader stopped, nil while it runs
}

var _ bridge.Prompter = (*Terminal)(nil)

// NewTerminal returns a Terminal reading answers from in, which must be a
// terminal, and writing questions to out (usually the same terminal).
func NewTerminal(in *os.File, out io.Writer) (*Terminal, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) || !terminalSupported {
		return nil, ErrNoTerminal
	}
	wake, err := newWaker()
	if err != nil {
		return nil, fmt.Errorf("prompt: terminal: %w", err)
	}
	return &Terminal{in: in, fd: fd, out: out, turn: make(chan struct{}, 1), wake: wake, done: make(chan struct{})}, nil
}

// Close stops the terminal's reader and waits for it; prompts waiting
// then, and later ones, are cancelled. It does not close the terminal.
func (t *Terminal) Close() error {
	started := true
	t.reader.Do(func() { started = false; close(t.done) })
	t.wake.wake()
	if started {
		<-t.done
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead == nil {
		t.dead = ErrTerminalClosed
	}
	return t.wake.close()
}

// readLines is the terminal's one reader. It waits for input without
// holding t.mu, then reads and routes it under t.mu, the lock a question
// holds while it flushes the input and starts waiting: so every line was
// either read before the flush, and went to the prompt before or nowhere,
// or typed after it, and goes to this question. In canonical mode the
// terminal has input to read only once a whole line is typed.
func (t *Terminal) readLines() {
	defer close(t.done)
	buf := make([]byte, 4096)
	for {
		err := t.wake.waitInput(t.fd)
		if err == nil {
			err = t.readLocked(buf)
		}
		if err != nil {
			t.mu.Lock()
			clear(t.partial)
			t.partial = nil
			t.dead = err
			if t.want != nil {
				close(t.want)
				t.want = nil
			}
			t.mu.Unlock()
			return
		}
	}
}

// readLocked reads what the terminal has, if it still has it, and hands
// each complete line to the waiting prompt or drops it.
func (t *Terminal) readLocked(buf []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !hasInput(t.fd) {
		return nil // flushed by a question since waitInput returned
	}
	n, err := readInput(t.fd, buf)
	if n == 0 && err == nil {
		err = io.EOF
	}
	chunk := buf[:max(n, 0)]
	defer clear(chunk)
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			t.partial = append(t.partial, chunk...)
			break
		}
		line := append(t.partial, chunk[:i]...)
		t.partial = nil
		chunk = chunk[i+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if t.want == nil {
			clear(line)
			continue
		}
		t.want <- line // buffered: one line per question
		t.want = nil
	}
	return err
}

// ask shows text and returns the line typed after it, without echo when
// secret. It returns bridge.ErrPromptCancelled (wrapping the cause) when
// ctx ends first or the terminal is gone.
func (t *Terminal) ask(ctx context.Context, text string, secret bool) ([]byte, error) {
	select {
	case t.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", bridge.ErrPromptCancelled, context.Cause(ctx))
	}
	defer func() { <-t.turn }()
	t.reader.Do(func() { go t.readLines() })
	if secret {
		restore, err := echoOff(t.fd)
		if err != nil {
			return nil, terminalError(err)
		}
		defer restore()
	}
	ch := make(chan []byte, 1)
	t.mu.Lock()
	if t.dead != nil {
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: terminal closed: %w", bridge.ErrPromptCancelled, t.dead)
	}
	// Under t.mu, so that the reader holds no line read before the
	// flush: type-ahead is dropped, not taken for the answer.
	err := flushInput(t.fd)
	clear(t.partial)
	t.partial = nil
	if err != nil {
		t.mu.Unlock()
		return nil, terminalError(err)
	}
	t.want = ch
	t.mu.Unlock()

	fmt.Fprint(t.out, text)
	select {
	case b, ok := <-ch:
		if secret {
			fmt.Fprintln(t.out) // the user's Enter was not echoed
		}
		if !ok {
			return nil, fmt.Errorf("%w: terminal closed", bridge.ErrPromptCancelled)
		}
		return b, nil
	case <-ctx.Done():
		t.mu.Lock()
		if t.want == ch {
			t.want = nil
		}
		t.mu.Unlock()
		select {
		case b := <-ch: // delivered as ctx ended: nobody asked any more
			clear(b)
		default:
		}
		fmt.Fprintln(t.out, "\n(this request was closed)")
		return nil, fmt.Errorf("%w: %w", bridge.ErrPromptCancelled, context.Cause(ctx))
	}
}

// terminalError wraps a failed terminal call. EIO is a terminal hung up
// (its window closed, the pseudo-terminal's other end gone) before the
// reader saw the end of input: the user left, as with end of input.
func terminalError(err error) error {
	if errors.Is(err, syscall.EIO) {
		return fmt.Errorf("%w: terminal closed: %w", bridge.ErrPromptCancelled, err)
	}
	return fmt.Errorf("prompt: terminal: %w", err)
}

// yes asks a yes/no question; with offerBlock, "block" is a third
// answer, returned as bridge.ErrBlockSite.
func (t *Terminal) yes(ctx context.Context, text string, offerBlock bool) (bool, error) {
	choices := " [y/N] "
	if offerBlock {
		choices = "\nYou refused this site several times; answer \"block\" to block it for good. [y/N/block] "
	}
	b, err := t.ask(ctx, text+choices, false)
	if err != nil {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(string(b)))
	if offerBlock && a == "block" {
		return false, bridge.ErrBlockSite
	}
	return a == "y" || a == "yes", nil
}

// PinpadNotice implements bridge.Prompter: a line naming the site, shown
// while the reader's keypad takes the PIN.
func (t *Terminal) PinpadNotice(ctx context.Context, req bridge.PINRequest) error {
	fmt.Fprintf(t.out, "\n%s asks for your eID PIN: enter it on the card reader's keypad.\n", DisplayOrigin(req.Origin))
	<-ctx.Done()
	return nil
}

// Consent implements bridge.Prompter.
func (t *Terminal) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	text := fmt.Sprintf("\nThe web site %s wants to use your eID card.\nAllow [o]nce, [a]lways, or [N]o? ", DisplayOrigin(req.Origin))
	b, err := t.ask(ctx, text, false)
	if err != nil {
		return bridge.Deny, err
	}
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "o", "once":
		return bridge.AllowOnce, nil
	case "a", "always":
		return bridge.AllowAlways, nil
	}
	return bridge.Deny, nil
}

// PIN implements bridge.Prompter. The PIN is read without echo; input
// that is not 4 to 12 digits is asked again without reaching the card;
// an empty line cancels.
func (t *Terminal) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	what := map[string]string{
		bridge.PurposeAuthenticate: "to log in to",
		bridge.PurposeSign:         "to sign for",
	}[req.Purpose]
	if what == "" {
		what = "to check it for"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nEnter your eID PIN %s %s", what, DisplayOrigin(req.Origin))
	if req.DocumentName != "" {
		fmt.Fprintf(&b, "\nDocument: %s\n", DisplayText(req.DocumentName, 120))
	}
	switch {
	case req.TriesLeft == 1:
		b.WriteString(" (LAST try: a wrong PIN blocks the card)")
	case req.TriesLeft > 1:
		fmt.Fprintf(&b, " (%d tries left)", req.TriesLeft)
	}
	b.WriteString("; empty to cancel: ")
	text := b.String()
	for {
		pin, err := t.ask(ctx, text, true)
		if err != nil {
			return nil, err
		}
		if len(pin) == 0 {
			return nil, bridge.ErrPromptCancelled
		}
		if ValidPIN(string(pin)) {
			return pin, nil
		}
		clear(pin)
		text = "The PIN must be 4 to 12 digits; nothing was sent to the card. PIN: "
	}
}

// ConfirmSignature implements bridge.Prompter.
func (t *Terminal) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s asks for your legally binding signature.\n", DisplayOrigin(req.Origin))
	fmt.Fprintf(&b, "%s digest:\n%s\n", DisplayText(req.HashAlgorithm, 16), FormatDigest(req.DigestHex))
	if req.DocumentName != "" {
		fmt.Fprintf(&b, "Document, as the site names it:\n%s\n", DisplayText(req.DocumentName, 200))
	}
	b.WriteString("Sign?")
	return t.yes(ctx, b.String(), req.OfferBlock)
}

// ConfirmLastTry implements bridge.Prompter.
func (t *Terminal) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	warning := "Only ONE PIN try is left for %s: a wrong PIN blocks the card."
	if req.TriesLeft < 0 {
		warning = "%s asks for your PIN; this card cannot tell how many tries are left, and this may be the last."
	}
	return t.yes(ctx, fmt.Sprintf("\n"+warning+"\nEnter the PIN anyway?", DisplayOrigin(req.Origin)), req.OfferBlock)
}
