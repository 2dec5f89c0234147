//go:build !linux

package prompt

import "errors"

// The terminal prompter drives termios directly (echo, flush) and is
// built for Linux, the headless case; elsewhere NewTerminal refuses and
// the daemon falls back to refusing everything.
const terminalSupported = false

var errTerminalUnsupported = errors.New("terminal prompts are not supported on this system")

func echoOff(int) (func(), error) { return nil, errTerminalUnsupported }

func flushInput(int) error { return errTerminalUnsupported }

type waker struct{}

func newWaker() (waker, error) { return waker{}, errTerminalUnsupported }

func (waker) wake() {}

func (waker) close() error { return nil }

func (waker) waitInput(int) error { return errTerminalUnsupported }

func hasInput(int) bool { return false }

func readInput(int, []byte) (int, error) { return 0, errTerminalUnsupported }
