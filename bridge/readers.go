package bridge

import (
	"bytes"
	"context"
	"slices"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Readers is the card-reader layer the server talks to. The pcscreaders
// package implements it over PC/SC; simreaders implements it over simulated
// cards for tests. Errors should wrap ErrNoService, ErrNoReader, ErrNoCard,
// ErrCardRemoved or ErrReaderBusy where they apply, so that the page gets a
// precise error code.
type Readers interface {
	// List returns the readers attached now.
	List(ctx context.Context) ([]ReaderInfo, error)
	// Watch blocks until the readers differ from known (by EqualReaders)
	// and returns the new list, or returns ctx's error.
	Watch(ctx context.Context, known []ReaderInfo) ([]ReaderInfo, error)
	// Open connects to the card in reader and starts an exclusive
	// transaction, which lasts until the session is closed.
	Open(ctx context.Context, reader string) (CardSession, error)
}

// ReaderInfo describes one reader and the card in it.
type ReaderInfo struct {
	Name        string
	CardPresent bool
	ATR         []byte // nil when no card is present
	Pinpad      bool   // the reader can take the PIN on its own keypad
}

// CardSession is a connected card held under an exclusive transaction.
type CardSession interface {
	apdu.Transmitter
	// Pinpad returns the reader's secure PIN entry, or nil when the reader
	// has none.
	Pinpad() beid.Pinpad
	// Close ends the transaction and disconnects.
	Close() error
}

// ResettingSession is a CardSession that can end by resetting its card.
// Readers implementations should provide it: when the LOG OFF after a
// PIN verification fails, a reset is the other way to end the verified
// state, which would otherwise let whoever uses the card next (another
// site, another program) use the authentication key without the PIN.
type ResettingSession interface {
	CardSession
	// CloseReset ends the session as Close does, resetting the card.
	CloseReset() error
}

// ATRSession is a CardSession that knows the ATR of the card it is
// connected to. Readers implementations should return sessions that
// implement it: the server then reports the card's own ATR rather than the
// reader list's, which may predate a card swap by a moment.
type ATRSession interface {
	CardSession
	ATR() []byte
}

// sessionATR returns the ATR of the session's card, or nil if the session
// does not know it.
func sessionATR(sess CardSession) []byte {
	if a, ok := sess.(ATRSession); ok {
		return a.ATR()
	}
	return nil
}

// EqualReaders reports whether two reader lists describe the same state,
// order included.
func EqualReaders(a, b []ReaderInfo) bool {
	return slices.EqualFunc(a, b, func(x, y ReaderInfo) bool {
		return x.Name == y.Name && x.CardPresent == y.CardPresent &&
			bytes.Equal(x.ATR, y.ATR) && x.Pinpad == y.Pinpad
	})
}

// pickReader chooses the reader a request without a "reader" parameter is
// about: the only one holding a Belgian eID card.
func pickReader(list []ReaderInfo) (ReaderInfo, *Error) {
	if len(list) == 0 {
		return ReaderInfo{}, newError(CodeNoReader, "no card reader is connected")
	}
	var present, belpic []ReaderInfo
	for _, r := range list {
		if !r.CardPresent {
			continue
		}
		present = append(present, r)
		// The ATR only hints at the card type (the driver's GET CARD
		// DATA on Open is the authority), but it lets the server pick
		// the one eID card among several without opening them.
		if beid.RecognizeATR(r.ATR) != beid.GenerationUnknown {
			belpic = append(belpic, r)
		}
	}
	switch {
	case len(belpic) == 1:
		return belpic[0], nil
	case len(belpic) > 1:
		return ReaderInfo{}, ambiguous(belpic)
	case len(present) == 1:
		// An ATR we do not know may still be a Belgian eID; opening it
		// tells, and answers UNKNOWN_CARD when it is not.
		return present[0], nil
	case len(present) > 1:
		return ReaderInfo{}, ambiguous(present)
	}
	return ReaderInfo{}, newError(CodeNoCard, "no card is inserted")
}

func ambiguous(rs []ReaderInfo) *Error {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return &Error{Code: CodeAmbiguousReader, Message: "several cards are inserted; name the reader",
		Data: map[string]any{"readers": names}}
}

// findReader returns the reader called name.
func findReader(list []ReaderInfo, name string) (ReaderInfo, *Error) {
	for _, r := range list {
		if r.Name == name {
			if !r.CardPresent {
				return ReaderInfo{}, newError(CodeNoCard, "no card in the reader")
			}
			return r, nil
		}
	}
	return ReaderInfo{}, newError(CodeNoReader, "no such card reader")
}
