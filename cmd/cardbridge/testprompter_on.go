//go:build cardbridgetest

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/config"
)

// systemConfigPath is the administrator's config, or in test binaries
// CARDBRIDGE_TEST_SYSTEM_CONFIG: the host has no flags of its own (the
// browser chooses its arguments), and tests must not write /etc.
func systemConfigPath() string {
	if p := os.Getenv("CARDBRIDGE_TEST_SYSTEM_CONFIG"); p != "" {
		return p
	}
	return config.SystemPath()
}

// testPrompter answers the dialogs from the environment, in binaries
// built with -tags cardbridgetest for tests only (never in a release):
// CARDBRIDGE_TEST_CONSENT (deny, allow-once, allow-always; default deny),
// CARDBRIDGE_TEST_PIN (the PIN to enter; none cancels) and confirmations
// answered yes. With CARDBRIDGE_TEST_DIALOGS set, each dialog shown
// appends a line to that file ("consent ORIGIN", "pin ORIGIN
// offerBlock=BOOL"), so that tests see which dialogs the user got.
func testPrompter() bridge.Prompter { return envPrompter{} }

type envPrompter struct{}

// shown records a dialog in CARDBRIDGE_TEST_DIALOGS.
func shown(format string, args ...any) {
	p := os.Getenv("CARDBRIDGE_TEST_DIALOGS")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

func (envPrompter) Consent(_ context.Context, req bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	shown("consent %s", req.Origin)
	switch os.Getenv("CARDBRIDGE_TEST_CONSENT") {
	case "allow-once":
		return bridge.AllowOnce, nil
	case "allow-always":
		return bridge.AllowAlways, nil
	}
	return bridge.Deny, nil
}

func (envPrompter) PIN(_ context.Context, req bridge.PINRequest) ([]byte, error) {
	shown("pin %s offerBlock=%t", req.Origin, req.OfferBlock)
	if p := os.Getenv("CARDBRIDGE_TEST_PIN"); p != "" {
		return []byte(p), nil
	}
	return nil, bridge.ErrPromptCancelled
}

func (envPrompter) ConfirmSignature(context.Context, bridge.SignatureRequest) (bool, error) {
	return true, nil
}

func (envPrompter) ConfirmLastTry(context.Context, bridge.PINRequest) (bool, error) { return true, nil }

func (envPrompter) PinpadNotice(ctx context.Context, _ bridge.PINRequest) error {
	<-ctx.Done()
	return nil
}
