package sim

import "errors"

// Errors of the package; match them with errors.Is.
var (
	// ErrPulled is returned by Transmit while the card is out of the reader
	// (after Pull, or from the command PullAfter chose), as a reader
	// reports a card removed in the middle of an exchange.
	ErrPulled = errors.New("sim: card removed")
	// ErrMute is returned by Transmit while the card gives no answer: a
	// command came too soon after a 6Cxx (Options.MuteOnEarlyResend). Only
	// a reset brings the card back, as with a real mute card.
	ErrMute = errors.New("sim: card mute")
	// ErrUnknownProfile is returned for a profile other than rsa or ecc.
	ErrUnknownProfile = errors.New("sim: unknown profile")
	// ErrPKIMismatch is returned when a PKI is incomplete or its keys do
	// not fit the card profile.
	ErrPKIMismatch = errors.New("sim: PKI does not fit the card")
	// ErrInvalidPerson is returned for holder data a card cannot carry.
	ErrInvalidPerson = errors.New("sim: invalid person")
	// ErrInvalidOptions is returned by New for a bad PIN, serial or photo.
	ErrInvalidOptions = errors.New("sim: invalid options")
)
