//go:build !cardbridgetest

package main

import "github.com/cardbridge/cardbridge/bridge"

// testPrompter is nil in release builds: nothing answers the user's
// dialogs but the user.
func testPrompter() bridge.Prompter { return nil }
