package pcsc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/ebfe/scard"
)

var sentinels = []error{
	ErrNoService, ErrNoReaders, ErrNoCard, ErrCardRemoved, ErrCardReset,
	ErrReaderUnavailable, ErrSharingViolation, ErrCancelled, ErrTimeout,
	ErrNotSupported, ErrClosed,
}

func TestErrorIs(t *testing.T) {
	tests := []struct {
		op   string
		code scard.Error
		want error // the only sentinel it may match; nil for none
	}{
		{opEstablish, scard.ErrNoService, ErrNoService},
		{opList, scard.ErrServiceStopped, ErrNoService},
		{opWait, scard.ErrCommError, ErrNoService},
		{opList, scard.ErrNoReadersAvailable, ErrNoReaders},
		{opConnect, scard.ErrNoSmartcard, ErrNoCard},
		{opConnect, scard.ErrRemovedCard, ErrNoCard},
		{opTransmit, scard.ErrRemovedCard, ErrCardRemoved},
		{opBegin, scard.ErrRemovedCard, ErrCardRemoved},
		{opTransmit, scard.ErrResetCard, ErrCardReset},
		{opConnect, scard.ErrReaderUnavailable, ErrReaderUnavailable},
		{opConnect, scard.ErrUnknownReader, ErrReaderUnavailable},
		{opConnect, scard.ErrSharingViolation, ErrSharingViolation},
		{opWait, scard.ErrCancelled, ErrCancelled},
		{opWait, scard.ErrTimeout, ErrTimeout},
		{opControl, scard.ErrUnsupportedFeature, ErrNotSupported},
		{opControl, 0x80100022, ErrNotSupported}, // Windows' SCARD_E_UNSUPPORTED_FEATURE
		{opControl, 0x32, ErrNotSupported},       // Windows' ERROR_NOT_SUPPORTED
		{opTransmit, scard.ErrNotTransacted, nil},
		{opTransmit, scard.ErrInvalidParameter, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%08X", tt.op, uint32(tt.code)), func(t *testing.T) {
			err := wrap(tt.op, tt.code)
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			var code scard.Error
			if !errors.As(err, &code) || code != tt.code {
				t.Errorf("errors.As(scard.Error) = %v, want %v", code, tt.code)
			}
			var e *Error
			if !errors.As(err, &e) || e.Op != tt.op {
				t.Errorf("errors.As(*Error) = %+v", e)
			}
			if !strings.HasPrefix(err.Error(), "pcsc: "+tt.op+": ") {
				t.Errorf("message %q does not name the operation", err)
			}
		})
	}
}

func TestWrapNonScardError(t *testing.T) {
	inner := errors.New("bad reader name")
	err := wrap(opConnect, inner)
	if !errors.Is(err, inner) {
		t.Fatalf("wrap lost the original error: %v", err)
	}
	if wrap(opConnect, nil) != nil {
		t.Fatal("wrap(nil) != nil")
	}
}

func TestContextError(t *testing.T) {
	if contextError(opWait, context.Background()) != nil {
		t.Fatal("live context gave an error")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	tests := []struct {
		ctx        context.Context
		want, not  error
		wantCtxErr error
	}{
		{cancelled, ErrCancelled, ErrTimeout, context.Canceled},
		{expired, ErrTimeout, ErrCancelled, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		err := contextError(opWait, tt.ctx)
		if !errors.Is(err, tt.want) || !errors.Is(err, tt.wantCtxErr) || errors.Is(err, tt.not) {
			t.Errorf("contextError = %v; want it to match %v and %v only", err, tt.want, tt.wantCtxErr)
		}
	}
}

func TestServiceGone(t *testing.T) {
	for code, want := range map[scard.Error]bool{
		scard.ErrNoService:      true,
		scard.ErrServiceStopped: true,
		scard.ErrInvalidHandle:  true, // the service restarted and forgot us
		scard.ErrCommError:      true,
		scard.ErrNoSmartcard:    false,
		scard.ErrCancelled:      false,
	} {
		if got := serviceGone(wrap(opList, code)); got != want {
			t.Errorf("serviceGone(%v) = %v, want %v", code, got, want)
		}
	}
	if serviceGone(errors.New("other")) {
		t.Error("serviceGone(non-PC/SC error) = true")
	}
}

func TestParseFeatures(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    map[byte]uint32
		wantErr bool
	}{
		{"none", nil, map[byte]uint32{}, false},
		{"verify and modify (CCID)", []byte{
			0x06, 0x04, 0x42, 0x33, 0x00, 0x06,
			0x07, 0x04, 0x42, 0x33, 0x00, 0x07,
		}, map[byte]uint32{FeatureVerifyPINDirect: 0x42330006, FeatureModifyPINDirect: 0x42330007}, false},
		{"truncated value", []byte{0x06, 0x04, 0x42, 0x33}, nil, true},
		{"bad length", []byte{0x06, 0x02, 0x42, 0x33}, nil, true},
		{"lone tag", []byte{0x06}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFeatures(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// The state word we hand to SCardGetStatusChange must decode to the same
// snapshot, or WaitChange would wake up for nothing or miss changes.
func TestReaderStateFlagsRoundTrip(t *testing.T) {
	atr := []byte{0x3B, 0x00}
	for _, s := range []ReaderState{
		{Name: "r"},
		{Name: "r", EventCount: 7},
		{Name: "r", CardPresent: true, ATR: atr, EventCount: 0xFFFF},
		{Name: "r", CardPresent: true, ATR: atr, InUse: true},
		{Name: "r", CardPresent: true, ATR: atr, Exclusive: true},
		{Name: "r", CardPresent: true, ATR: atr, Mute: true},
		{Name: "r", Unavailable: true},
	} {
		rs := scard.ReaderState{Reader: s.Name, EventState: s.flags(), Atr: s.ATR}
		if got := fromScard(&rs); !got.equal(s) {
			t.Errorf("round trip of %+v gave %+v", s, got)
		}
	}
}
