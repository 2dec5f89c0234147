//go:build cardbridgetest

package main

import (
	"context"
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
// answered yes.
func testPrompter() bridge.Prompter { return envPrompter{} }

type envPrompter struct{}

func (envPrompter) Consent(context.Context, bridge.ConsentRequest) (bridge.ConsentDecision, error) {
	switch os.Getenv("CARDBRIDGE_TEST_CONSENT") {
	case "allow-once":
		return bridge.AllowOnce, nil
	case "allow-always":
		return bridge.AllowAlways, nil
	}
	return bridge.Deny, nil
}

func (envPrompter) PIN(context.Context, bridge.PINRequest) ([]byte, error) {
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
