package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Code is a protocol error code, sent to the page as error.code.
type Code string

// The protocol v1 error codes. docs/protocol.md describes when each is sent.
const (
	CodeBadRequest       Code = "BAD_REQUEST"
	CodeUnknownMethod    Code = "UNKNOWN_METHOD"
	CodeMessageTooLarge  Code = "MESSAGE_TOO_LARGE"
	CodeRateLimited      Code = "RATE_LIMITED"
	CodeTooManyPending   Code = "TOO_MANY_PENDING"
	CodeTimeout          Code = "TIMEOUT"
	CodeCancelled        Code = "CANCELLED"
	CodeOriginNotAllowed Code = "ORIGIN_NOT_ALLOWED"
	CodeConsentDenied    Code = "CONSENT_DENIED"
	CodeUserCancelled    Code = "USER_CANCELLED"
	CodeNoService        Code = "NO_SERVICE"
	CodeNoReader         Code = "NO_READER"
	CodeNoCard           Code = "NO_CARD"
	CodeCardRemoved      Code = "CARD_REMOVED"
	CodeUnknownCard      Code = "UNKNOWN_CARD"
	CodeAmbiguousReader  Code = "AMBIGUOUS_READER"
	CodePINIncorrect     Code = "PIN_INCORRECT"
	CodePINBlocked       Code = "PIN_BLOCKED"
	CodePINLastTry       Code = "PIN_LAST_TRY"
	CodePinpadTimeout    Code = "PINPAD_TIMEOUT"
	CodeCardError        Code = "CARD_ERROR"
	CodeBusy             Code = "BUSY"
	CodeInternal         Code = "INTERNAL"
)

// Error is a protocol error: what the page receives in a response's error
// member. Data, when not nil, is sent as error.data and must hold only
// values that are safe to show to any page (never a PIN, never card data).
type Error struct {
	Code    Code
	Message string
	Data    map[string]any
	// Err is the underlying cause, kept for logs and errors.Is; it is never
	// sent to the page.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("bridge: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("bridge: %s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: CodeNoCard}) works whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func newError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Errors a Readers implementation returns so that the server can tell the
// page what is wrong. Wrap them with %w to add detail.
var (
	ErrNoService   = errors.New("bridge: smart card service not running")
	ErrNoReader    = errors.New("bridge: no such reader")
	ErrNoCard      = errors.New("bridge: no card in the reader")
	ErrCardRemoved = errors.New("bridge: card removed")
	ErrReaderBusy  = errors.New("bridge: reader in use by another application")
)

// ErrPromptCancelled is what a Prompter returns when the user dismissed a
// prompt or the prompt timed out on its own.
var ErrPromptCancelled = errors.New("bridge: prompt cancelled")

// errRequestCancelled is the cause attached to a request's context when the
// page cancels it with the cancel method.
var errRequestCancelled = errors.New("bridge: request cancelled by the page")

// toError maps any error met while serving a request to the protocol error
// sent to the page. It is the one place where driver, transport, prompt
// and context errors become protocol codes. ctx is the request's context:
// when it is done, its cause wins over whatever the operation returned,
// because an operation aborted by a timeout often reports something vaguer.
func toError(ctx context.Context, err error) *Error {
	if err == nil {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errRequestCancelled) {
			return &Error{Code: CodeCancelled, Message: "request cancelled", Err: err}
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &Error{Code: CodeTimeout, Message: "request timed out", Err: err}
		}
		return &Error{Code: CodeCancelled, Message: "connection closed", Err: err}
	}
	var be *Error
	if errors.As(err, &be) {
		return be
	}
	var pe *beid.PINError
	switch {
	case errors.As(err, &pe):
		if pe.TriesLeft <= 0 {
			return &Error{Code: CodePINBlocked, Message: "the PIN is blocked", Err: err}
		}
		return &Error{Code: CodePINIncorrect, Message: "incorrect PIN",
			Data: map[string]any{"triesLeft": pe.TriesLeft}, Err: err}
	case errors.Is(err, beid.ErrPINBlocked):
		return &Error{Code: CodePINBlocked, Message: "the PIN is blocked", Err: err}
	case errors.Is(err, beid.ErrInvalidPIN):
		// Checked before any VERIFY is sent, so no try was spent.
		return &Error{Code: CodePINIncorrect, Message: "the PIN must be 4 to 12 digits",
			Data: map[string]any{"invalidFormat": true}, Err: err}
	case errors.Is(err, ErrPromptCancelled):
		return &Error{Code: CodeUserCancelled, Message: "the user cancelled", Err: err}
	case errors.Is(err, beid.ErrNotBelpic):
		return &Error{Code: CodeUnknownCard, Message: "the card is not a Belgian eID card", Err: err}
	case errors.Is(err, ErrNoService):
		return &Error{Code: CodeNoService, Message: "the smart card service is not running", Err: err}
	case errors.Is(err, ErrNoReader):
		return &Error{Code: CodeNoReader, Message: "no such card reader", Err: err}
	case errors.Is(err, ErrNoCard):
		return &Error{Code: CodeNoCard, Message: "no card in the reader", Err: err}
	case errors.Is(err, ErrCardRemoved):
		return &Error{Code: CodeCardRemoved, Message: "the card was removed", Err: err}
	case errors.Is(err, ErrReaderBusy):
		return &Error{Code: CodeBusy, Message: "the reader is in use by another application", Err: err}
	case errors.Is(err, beid.ErrPinpadTimeout):
		return &Error{Code: CodePinpadTimeout, Message: "no PIN was entered on the reader in time", Err: err}
	case errors.Is(err, beid.ErrPinpadCancelled):
		return &Error{Code: CodeUserCancelled, Message: "PIN entry cancelled on the reader", Err: err}
	case errors.Is(err, beid.ErrInvalidDigest):
		return &Error{Code: CodeBadRequest, Message: "digest length does not match hashAlgorithm", Err: err}
	case errors.Is(err, beid.ErrNoCertificate):
		return &Error{Code: CodeCardError, Message: "the card holds no such certificate", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Message: "operation timed out", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCancelled, Message: "operation cancelled", Err: err}
	case errors.Is(err, beid.ErrUnsupported):
		return &Error{Code: CodeCardError, Message: "the card does not support this operation", Err: err}
	case errors.Is(err, beid.ErrMalformed), errors.Is(err, apdu.ErrUnexpectedStatusWord), errors.Is(err, apdu.ErrProtocol):
		return &Error{Code: CodeCardError, Message: "the card gave an unexpected answer", Err: err}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}
