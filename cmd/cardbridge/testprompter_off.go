//go:build !cardbridgetest

package main

import (
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/config"
)

// testPrompter is nil in release builds: nothing answers the user's
// dialogs but the user.
func testPrompter() bridge.Prompter { return nil }

// systemConfigPath is the administrator's config, config.SystemPath().
func systemConfigPath() string { return config.SystemPath() }
