package main

import (
	"log/slog"

	"github.com/cardbridge/cardbridge/bridge"
)

// withSharedDialogs returns p: on Windows the hosts serving in their own
// process do not share the daemon's dialog queue yet.
func withSharedDialogs(p bridge.Prompter, _ bridge.RefusalStore, _ *slog.Logger) bridge.Prompter {
	return p
}

// sharedRefusals returns nil (refusals kept in each process's memory):
// on Windows the hosts serving in their own process do not share the
// daemon's refusals yet.
func sharedRefusals(*slog.Logger) bridge.RefusalStore { return nil }
