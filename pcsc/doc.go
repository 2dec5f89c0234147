// Package pcsc is cardbridge's PC/SC transport: it lists readers, waits for
// readers and cards to come and go, connects to cards, and exchanges APDUs,
// transactions and reader control commands, on top of github.com/ebfe/scard
// (pcsc-lite on Linux, WinSCard on Windows, PCSC.framework on macOS).
//
// # Contexts
//
// A Context is the application's handle on the PC/SC service. Establish fails
// with ErrNoService when the service is not running. Once established, a
// Context survives service restarts: a call that finds the service gone
// returns an error matching ErrNoService, and the next call connects afresh.
// A daemon therefore keeps one Context for its whole life and simply retries
// (with a backoff of its own) after ErrNoService.
//
// pcsc-lite contexts must not be used by two threads at once, and a blocked
// SCardGetStatusChange holds its context for as long as it waits. So the
// Context does not share its PC/SC context: each WaitChange call and each Card
// get their own, and the Context's own one is used under a mutex.
//
// # Cards
//
// A Card is a shared-mode connection to the card in one reader. It implements
// apdu.Transmitter. Cards do not survive a service restart or a card removal:
// after ErrNoService or ErrCardRemoved, Close the Card and Connect again.
// After ErrCardReset (another application reset the card), Reconnect.
//
// # Cancellation
//
// Waiting for reader changes is cancelled with SCardCancel when ctx ends, so
// WaitChange sleeps in the service without any polling of its own. Begin,
// which waits for other applications' transactions to end, returns as soon as
// ctx ends; a transaction that is granted after that is released at once.
// An APDU exchange cannot be interrupted once sent: Transmit checks ctx before
// sending and after the answer arrives.
package pcsc
