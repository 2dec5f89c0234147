package pcsc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ebfe/scard"
)

// Sentinel errors. Errors returned by this package match them with
// errors.Is; the underlying PC/SC code stays available through *Error.
var (
	// ErrNoService: the PC/SC service (pcscd, or the Windows/macOS smart
	// card service) is not running or went away mid-call. A Context recovers on its
	// own once the service is back; a Card does not (see Card).
	ErrNoService = errors.New("pcsc: smart card service not available")
	// ErrNoReaders: no reader is connected. Context.Readers does not return
	// it; it reports an empty list instead.
	ErrNoReaders = errors.New("pcsc: no smart card reader")
	// ErrNoCard: there is no card in the reader (or it left while connecting).
	ErrNoCard = errors.New("pcsc: no card in reader")
	// ErrCardRemoved: the card was pulled out while connected. The Card is
	// useless from then on; Close it and Connect again after reinsertion.
	ErrCardRemoved = errors.New("pcsc: card removed")
	// ErrCardReset: another application reset the card. Card.Reconnect
	// resynchronises the handle; any state on the card (selected file,
	// verified PIN) is gone.
	ErrCardReset = errors.New("pcsc: card reset by another application")
	// ErrReaderUnavailable: the reader is unknown or was unplugged.
	ErrReaderUnavailable = errors.New("pcsc: reader unavailable")
	// ErrSharingViolation: another application holds the card exclusively.
	ErrSharingViolation = errors.New("pcsc: card in exclusive use by another application")
	// ErrCancelled: the operation was cancelled. When that happened because
	// a context was cancelled, the error also matches context.Canceled.
	ErrCancelled = errors.New("pcsc: cancelled")
	// ErrTimeout: the operation timed out. When a context deadline expired,
	// the error also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("pcsc: timed out")
	// ErrNotSupported: the reader does not support the requested feature
	// (for example a PIN pad).
	ErrNotSupported = errors.New("pcsc: not supported by the reader")
	// ErrClosed: the Context or Card was closed.
	ErrClosed = errors.New("pcsc: use of closed handle")
)

// Error is a failed PC/SC call. It wraps the scard.Error code and matches
// the package's sentinel errors with errors.Is.
type Error struct {
	Op   string      // what we were doing, e.g. "connect", "transmit"
	Code scard.Error // the PC/SC return code
}

// Operation names, used in Error.Op. opConnect matters for classification.
const (
	opEstablish  = "establish context"
	opList       = "list readers"
	opStatus     = "get reader status"
	opWait       = "wait for reader change"
	opConnect    = "connect"
	opTransmit   = "transmit"
	opBegin      = "begin transaction"
	opEnd        = "end transaction"
	opReconnect  = "reconnect"
	opControl    = "control"
	opDisconnect = "disconnect"
)

func (e *Error) Error() string {
	// scard's text already says "scard: ...": keep only the description.
	msg := strings.TrimPrefix(e.Code.Error(), "scard: ")
	return fmt.Sprintf("pcsc: %s: %s (0x%08X)", e.Op, msg, uint32(e.Code))
}

// Unwrap returns the scard.Error code.
func (e *Error) Unwrap() error { return e.Code }

// Is reports whether target is the sentinel error that e's code stands for.
func (e *Error) Is(target error) bool {
	s := e.sentinel()
	return s != nil && s == target
}

// Windows returns Win32 errors instead of SCARD_E_UNSUPPORTED_FEATURE for
// control codes a driver does not know.
const (
	winErrorInvalidFunction scard.Error = 0x1
	winErrorNotSupported    scard.Error = 0x32
	// pcsc-lite uses 0x8010001F for SCARD_E_UNSUPPORTED_FEATURE, Windows
	// 0x80100022. scard's constant is the pcsc-lite one on every platform.
	winUnsupportedFeature scard.Error = 0x80100022
)

func (e *Error) sentinel() error {
	switch e.Code {
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrCommError:
		// pcsc-lite reports a broken connection to pcscd (it stopped
		// while we were talking to it) as SCARD_F_COMM_ERROR.
		return ErrNoService
	case scard.ErrNoReadersAvailable:
		return ErrNoReaders
	case scard.ErrNoSmartcard:
		return ErrNoCard
	case scard.ErrRemovedCard:
		// Removed before we had the card is "no card", during use it is
		// "removed": callers handle the two differently.
		if e.Op == opConnect {
			return ErrNoCard
		}
		return ErrCardRemoved
	case scard.ErrResetCard:
		return ErrCardReset
	case scard.ErrReaderUnavailable, scard.ErrUnknownReader:
		return ErrReaderUnavailable
	case scard.ErrSharingViolation:
		return ErrSharingViolation
	case scard.ErrCancelled:
		return ErrCancelled
	case scard.ErrTimeout:
		return ErrTimeout
	case scard.ErrUnsupportedFeature, winUnsupportedFeature, winErrorNotSupported, winErrorInvalidFunction:
		return ErrNotSupported
	}
	return nil
}

// wrap turns an error from the scard package into an *Error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var code scard.Error
	if errors.As(err, &code) {
		return &Error{Op: op, Code: code}
	}
	return fmt.Errorf("pcsc: %s: %w", op, err)
}

// contextError is returned when ctx ended before or during op. It matches
// ctx.Err() and ErrCancelled or ErrTimeout.
func contextError(op string, ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	s := ErrCancelled
	if errors.Is(err, context.DeadlineExceeded) {
		s = ErrTimeout
	}
	return fmt.Errorf("pcsc: %s: %w (%w)", op, s, err)
}

// serviceGone reports whether err means our handle to the PC/SC service is
// dead and a fresh context is needed: the service stopped, or it restarted
// and no longer knows the handle.
func serviceGone(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle, scard.ErrCommError:
		return true
	}
	return false
}
