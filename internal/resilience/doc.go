// Package resilience holds fault and soak tests of the daemon on the real
// PC/SC stack: a page's WebSocket client → bridge.Server (with the PC/SC
// Readers adapter and a scripted prompter) → pcsc → pcscd → vpcd → the
// simulated card.
//
// The fault tests pull the card in the middle of a read, a PIN verification
// and a signature, cut the virtual reader's card connection, let two pages
// use the card at once and let a page vanish mid-operation. Each checks the
// typed error code the page receives, that no PIN try was spent that the
// user did not spend, and that the daemon still serves a fresh connection.
// The pcscd restart test stops and starts the machine's pcscd, so it runs
// only with CARDBRIDGE_RIG_RESTART=1 (scripts/test.sh runs it on its own).
// The soak test sends a bounded mix of requests over many connections and
// checks that goroutines, file descriptors and heap come back to where they
// were.
//
// The tests skip, loudly, where pcscd and vpcd are not running (see
// internal/rig); CARDBRIDGE_RIG=required turns the skips into failures.
package resilience
