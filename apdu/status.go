package apdu

import (
	"errors"
	"fmt"
)

// StatusWord is the SW1-SW2 trailer of a response APDU.
type StatusWord uint16

// Status words with a meaning of their own.
const (
	SWOK                     StatusWord = 0x9000
	SWWarningNoInfo          StatusWord = 0x6200
	SWFileDeactivated        StatusWord = 0x6283 // selected file deactivated (BELPIC 1.7 "not activated")
	SWNoPreciseDiagnosis     StatusWord = 0x6400
	SWMemoryFailure          StatusWord = 0x6581
	SWWrongLength            StatusWord = 0x6700
	SWLogicalChannelNotSupp  StatusWord = 0x6881
	SWSecureMessagingNotSupp StatusWord = 0x6882
	SWCommandNotAllowed      StatusWord = 0x6900
	SWCommandIncompatible    StatusWord = 0x6981
	SWSecurityStatus         StatusWord = 0x6982
	SWAuthMethodBlocked      StatusWord = 0x6983
	SWReferenceDataUnusable  StatusWord = 0x6984
	SWConditionsNotSatisfied StatusWord = 0x6985
	SWNoCurrentEF            StatusWord = 0x6986
	SWIncorrectData          StatusWord = 0x6A80
	SWFuncNotSupported       StatusWord = 0x6A81
	SWFileNotFound           StatusWord = 0x6A82
	SWRecordNotFound         StatusWord = 0x6A83
	SWIncorrectP1P2          StatusWord = 0x6A86
	SWLcInconsistent         StatusWord = 0x6A87
	SWReferenceNotFound      StatusWord = 0x6A88
	SWWrongP1P2              StatusWord = 0x6B00
	SWInsNotSupported        StatusWord = 0x6D00
	SWClaNotSupported        StatusWord = 0x6E00
	SWNoDiagnosis            StatusWord = 0x6F00
)

// SW1 and SW2 return the two bytes of sw.
func (sw StatusWord) SW1() byte { return byte(sw >> 8) }
func (sw StatusWord) SW2() byte { return byte(sw) }

// OK reports whether sw is 9000.
func (sw StatusWord) OK() bool { return sw == SWOK }

// MoreData reports whether sw is 61xx, with xx the number of bytes waiting
// for GET RESPONSE (0 meaning 256 or more).
func (sw StatusWord) MoreData() (n int, ok bool) {
	if sw.SW1() != 0x61 {
		return 0, false
	}
	n = int(sw.SW2())
	if n == 0 {
		n = MaxShortLe
	}
	return n, true
}

// ExactLength reports whether sw is 6Cxx: the command must be sent again
// with Le set to xx (0 meaning 256).
func (sw StatusWord) ExactLength() (le int, ok bool) {
	if sw.SW1() != 0x6C {
		return 0, false
	}
	le = int(sw.SW2())
	if le == 0 {
		le = MaxShortLe
	}
	return le, true
}

// RetriesLeft reports whether sw is 63Cx, a failed verification with x
// tries left.
func (sw StatusWord) RetriesLeft() (n int, ok bool) {
	if sw&0xFFF0 != 0x63C0 {
		return 0, false
	}
	return int(sw & 0x0F), true
}

// Err returns nil for 9000 and a *StatusError otherwise.
func (sw StatusWord) Err() error {
	if sw.OK() {
		return nil
	}
	return &StatusError{SW: sw}
}

func (sw StatusWord) String() string {
	if d := sw.describe(); d != "" {
		return fmt.Sprintf("%04X (%s)", uint16(sw), d)
	}
	return fmt.Sprintf("%04X", uint16(sw))
}

func (sw StatusWord) describe() string {
	if n, ok := sw.RetriesLeft(); ok {
		return fmt.Sprintf("verification failed, %d tries left", n)
	}
	if n, ok := sw.MoreData(); ok {
		return fmt.Sprintf("%d bytes available", n)
	}
	if n, ok := sw.ExactLength(); ok {
		return fmt.Sprintf("wrong Le, exact length %d", n)
	}
	switch sw {
	case SWOK:
		return "success"
	case SWFileDeactivated:
		return "file deactivated"
	case SWNoPreciseDiagnosis:
		return "no precise diagnosis"
	case SWMemoryFailure:
		return "memory failure"
	case SWWrongLength:
		return "wrong length"
	case SWCommandIncompatible:
		return "command incompatible with file structure"
	case SWSecurityStatus:
		return "security status not satisfied"
	case SWAuthMethodBlocked:
		return "authentication method blocked"
	case SWReferenceDataUnusable:
		return "reference data not usable"
	case SWConditionsNotSatisfied:
		return "conditions of use not satisfied"
	case SWNoCurrentEF:
		return "no current EF"
	case SWIncorrectData:
		return "incorrect data"
	case SWFuncNotSupported:
		return "function not supported"
	case SWFileNotFound:
		return "file not found"
	case SWRecordNotFound:
		return "record not found"
	case SWIncorrectP1P2:
		return "incorrect P1-P2"
	case SWLcInconsistent:
		return "Lc inconsistent with P1-P2"
	case SWReferenceNotFound:
		return "referenced data not found"
	case SWWrongP1P2:
		return "wrong P1-P2"
	case SWInsNotSupported:
		return "instruction not supported"
	case SWClaNotSupported:
		return "class not supported"
	case SWNoDiagnosis:
		return "no precise diagnosis"
	}
	return ""
}

// Sentinel errors that a *StatusError matches with errors.Is, grouping the
// status words a caller is likely to act on.
var (
	ErrWrongLength          = errors.New("apdu: wrong length")
	ErrSecurityStatus       = errors.New("apdu: security status not satisfied")
	ErrBlocked              = errors.New("apdu: authentication method blocked")
	ErrVerificationFailed   = errors.New("apdu: verification failed")
	ErrConditionsNotMet     = errors.New("apdu: conditions of use not satisfied")
	ErrFileNotFound         = errors.New("apdu: file or application not found")
	ErrRecordNotFound       = errors.New("apdu: record not found")
	ErrIncorrectData        = errors.New("apdu: incorrect data")
	ErrReferenceNotFound    = errors.New("apdu: referenced data not found")
	ErrWrongParameters      = errors.New("apdu: wrong parameters P1-P2")
	ErrInsNotSupported      = errors.New("apdu: instruction not supported")
	ErrClaNotSupported      = errors.New("apdu: class not supported")
	ErrFileDeactivated      = errors.New("apdu: file deactivated")
	ErrUnexpectedStatusWord = errors.New("apdu: unexpected status word")
)

// StatusError is a response whose status word is not 9000. Match it with
// errors.As to read the status word, or with errors.Is against the sentinel
// errors above.
type StatusError struct {
	SW StatusWord
}

func (e *StatusError) Error() string { return "apdu: card returned " + e.SW.String() }

// Is maps the status word to the sentinel errors of this package.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnexpectedStatusWord:
		return true
	case ErrWrongLength:
		_, exact := e.SW.ExactLength()
		return e.SW == SWWrongLength || exact
	case ErrSecurityStatus:
		return e.SW == SWSecurityStatus
	case ErrBlocked:
		return e.SW == SWAuthMethodBlocked
	case ErrVerificationFailed:
		_, ok := e.SW.RetriesLeft()
		return ok
	case ErrConditionsNotMet:
		return e.SW == SWConditionsNotSatisfied
	case ErrFileNotFound:
		return e.SW == SWFileNotFound
	case ErrRecordNotFound:
		return e.SW == SWRecordNotFound
	case ErrIncorrectData:
		return e.SW == SWIncorrectData
	case ErrReferenceNotFound:
		return e.SW == SWReferenceNotFound
	case ErrWrongParameters:
		return e.SW == SWIncorrectP1P2 || e.SW == SWWrongP1P2
	case ErrInsNotSupported:
		return e.SW == SWInsNotSupported
	case ErrClaNotSupported:
		return e.SW == SWClaNotSupported || e.SW == SWLogicalChannelNotSupp
	case ErrFileDeactivated:
		return e.SW == SWFileDeactivated
	}
	return false
}
