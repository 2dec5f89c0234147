package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/cardbridge/cardbridge/bridge"
)

// terminalPrompter asks the user on the terminal the daemon runs in, for
// machines without a desktop. Answers other than an explicit yes refuse.
//
// A terminal read cannot be interrupted, so a dialog closed by the page
// (or a timeout) leaves its read pending: the next prompt waits for it,
// and whatever the user types for the closed prompt is discarded.
type terminalPrompter struct {
	in  *os.File
	out io.Writer
	// reading is held by the goroutine that reads the terminal.
	reading sync.Mutex
}

func newTerminalPrompter(in *os.File, out io.Writer) *terminalPrompter {
	return &terminalPrompter{in: in, out: out}
}

type readResult struct {
	b   []byte
	err error
}

// read reads one line, without echo when secret.
func (p *terminalPrompter) read(ctx context.Context, secret bool) ([]byte, error) {
	ch := make(chan readResult, 1)
	go func() {
		p.reading.Lock()
		defer p.reading.Unlock()
		if secret {
			b, err := term.ReadPassword(int(p.in.Fd()))
			fmt.Fprintln(p.out)
			ch <- readResult{b, err}
			return
		}
		// Byte by byte, so that nothing beyond the line is consumed.
		var line []byte
		var c [1]byte
		for {
			n, err := p.in.Read(c[:])
			if n == 1 && c[0] != '\n' {
				line = append(line, c[0])
				continue
			}
			if n == 1 || err != nil {
				ch <- readResult{line, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			clear(r.b)
			return nil, bridge.ErrPromptCancelled
		}
		return r.b, nil
	case <-ctx.Done():
		fmt.Fprintln(p.out, "\n(this request was closed; press Enter)")
		go func() { r := <-ch; clear(r.b) }()
		return nil, ctx.Err()
	}
}

func (p *terminalPrompter) yes(ctx context.Context, question string) (bool, error) {
	fmt.Fprintf(p.out, "%s [y/N] ", question)
	b, err := p.read(ctx, false)
	if err != nil {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(string(b)))
	return a == "y" || a == "yes", nil
}

// Consent implements bridge.Prompter.
func (p *terminalPrompter) Consent(ctx context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	fmt.Fprintf(p.out, "\nThe web site %s wants to use your eID card.\n", req.Origin)
	fmt.Fprint(p.out, "Allow [o]nce, [a]lways, or [N]o? ")
	b, err := p.read(ctx, false)
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

// PIN implements bridge.Prompter. The PIN is read without echo.
func (p *terminalPrompter) PIN(ctx context.Context, req bridge.PINRequest) ([]byte, error) {
	what := map[string]string{
		bridge.PurposeAuthenticate: "to log in to",
		bridge.PurposeSign:         "to sign for",
		bridge.PurposeVerify:       "to check it for",
	}[req.Purpose]
	fmt.Fprintf(p.out, "\nEnter your eID PIN %s %s", what, req.Origin)
	if req.DocumentName != "" {
		fmt.Fprintf(p.out, " (document: %q)", req.DocumentName)
	}
	if req.TriesLeft > 0 {
		fmt.Fprintf(p.out, ", %d tries left", req.TriesLeft)
	}
	fmt.Fprint(p.out, "; empty to cancel: ")
	pin, err := p.read(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(pin) == 0 {
		return nil, bridge.ErrPromptCancelled
	}
	return pin, nil
}

// ConfirmSignature implements bridge.Prompter.
func (p *terminalPrompter) ConfirmSignature(ctx context.Context, req bridge.SignatureRequest) (bool, error) {
	fmt.Fprintf(p.out, "\n%s asks for your legally binding signature.\n", req.Origin)
	if req.DocumentName != "" {
		fmt.Fprintf(p.out, "Document: %q\n", req.DocumentName)
	}
	fmt.Fprintf(p.out, "%s digest: %s\n", req.HashAlgorithm, req.DigestHex)
	return p.yes(ctx, "Sign?")
}

// ConfirmLastTry implements bridge.Prompter.
func (p *terminalPrompter) ConfirmLastTry(ctx context.Context, req bridge.PINRequest) (bool, error) {
	fmt.Fprintf(p.out, "\nOnly ONE PIN try is left for %s: a wrong PIN blocks the card.\n", req.Origin)
	return p.yes(ctx, "Enter the PIN anyway?")
}
