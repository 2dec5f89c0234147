package apdu_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func TestStatusWordPredicates(t *testing.T) {
	type opt struct {
		n  int
		ok bool
	}
	tests := []struct {
		sw          apdu.StatusWord
		ok          bool
		more, exact opt
		retries     opt
	}{
		{sw: 0x9000, ok: true},
		{sw: 0x9001},
		{sw: 0x6100, more: opt{256, true}},
		{sw: 0x6101, more: opt{1, true}},
		{sw: 0x61FF, more: opt{255, true}},
		{sw: 0x6C00, exact: opt{256, true}},
		{sw: 0x6C10, exact: opt{16, true}},
		{sw: 0x6CFF, exact: opt{255, true}},
		{sw: 0x63C0, retries: opt{0, true}},
		{sw: 0x63C2, retries: opt{2, true}},
		{sw: 0x63CF, retries: opt{15, true}},
		{sw: 0x6300},
		{sw: 0x63D1},
		{sw: 0x6700},
		{sw: 0x6B00},
		{sw: 0x0000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%04X", uint16(tc.sw)), func(t *testing.T) {
			if got := tc.sw.OK(); got != tc.ok {
				t.Errorf("OK() = %v, want %v", got, tc.ok)
			}
			if n, ok := tc.sw.MoreData(); (opt{n, ok}) != tc.more {
				t.Errorf("MoreData() = %d, %v; want %d, %v", n, ok, tc.more.n, tc.more.ok)
			}
			if n, ok := tc.sw.ExactLength(); (opt{n, ok}) != tc.exact {
				t.Errorf("ExactLength() = %d, %v; want %d, %v", n, ok, tc.exact.n, tc.exact.ok)
			}
			if n, ok := tc.sw.RetriesLeft(); (opt{n, ok}) != tc.retries {
				t.Errorf("RetriesLeft() = %d, %v; want %d, %v", n, ok, tc.retries.n, tc.retries.ok)
			}
			if sw1, sw2 := tc.sw.SW1(), tc.sw.SW2(); uint16(sw1)<<8|uint16(sw2) != uint16(tc.sw) {
				t.Errorf("SW1, SW2 = %02X, %02X", sw1, sw2)
			}
		})
	}
}

func TestStatusWordString(t *testing.T) {
	tests := []struct {
		sw   apdu.StatusWord
		want string
	}{
		{apdu.SWOK, "9000 (success)"},
		{0x6100, "6100 (256 bytes available)"},
		{0x6110, "6110 (16 bytes available)"},
		{0x6C00, "6C00 (wrong Le, exact length 256)"},
		{0x6C2A, "6C2A (wrong Le, exact length 42)"},
		{0x63C2, "63C2 (verification failed, 2 tries left)"},
		{0x63C0, "63C0 (verification failed, 0 tries left)"},
		{apdu.SWWrongLength, "6700 (wrong length)"},
		{apdu.SWSecurityStatus, "6982 (security status not satisfied)"},
		{apdu.SWAuthMethodBlocked, "6983 (authentication method blocked)"},
		{apdu.SWFileNotFound, "6A82 (file not found)"},
		{apdu.SWIncorrectP1P2, "6A86 (incorrect P1-P2)"},
		{apdu.SWWrongP1P2, "6B00 (wrong P1-P2)"},
		{apdu.SWInsNotSupported, "6D00 (instruction not supported)"},
		{apdu.SWFileDeactivated, "6283 (file deactivated)"},
		{apdu.SWNoPreciseDiagnosis, "6400 (no precise diagnosis)"},
		{apdu.SWMemoryFailure, "6581 (memory failure)"},
		{apdu.SWCommandIncompatible, "6981 (command incompatible with file structure)"},
		{apdu.SWReferenceDataUnusable, "6984 (reference data not usable)"},
		{apdu.SWConditionsNotSatisfied, "6985 (conditions of use not satisfied)"},
		{apdu.SWNoCurrentEF, "6986 (no current EF)"},
		{apdu.SWIncorrectData, "6A80 (incorrect data)"},
		{apdu.SWFuncNotSupported, "6A81 (function not supported)"},
		{apdu.SWRecordNotFound, "6A83 (record not found)"},
		{apdu.SWLcInconsistent, "6A87 (Lc inconsistent with P1-P2)"},
		{apdu.SWReferenceNotFound, "6A88 (referenced data not found)"},
		{apdu.SWClaNotSupported, "6E00 (class not supported)"},
		{apdu.SWNoDiagnosis, "6F00 (no precise diagnosis)"},
		{0x9ABC, "9ABC"},
		{0x0000, "0000"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.sw.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatusWordErrNilForOK(t *testing.T) {
	if err := apdu.SWOK.Err(); err != nil {
		t.Errorf("SWOK.Err() = %v, want nil", err)
	}
	if err := (apdu.Response{Data: h("01"), SW: 0x9000}).Err(); err != nil {
		t.Errorf("Response{SW: 9000}.Err() = %v, want nil", err)
	}
}

// allSentinels lists every status error sentinel; each row of
// TestStatusErrorIs says which of them its status word must match.
var allSentinels = map[string]error{
	"ErrWrongLength":          apdu.ErrWrongLength,
	"ErrSecurityStatus":       apdu.ErrSecurityStatus,
	"ErrBlocked":              apdu.ErrBlocked,
	"ErrVerificationFailed":   apdu.ErrVerificationFailed,
	"ErrConditionsNotMet":     apdu.ErrConditionsNotMet,
	"ErrFileNotFound":         apdu.ErrFileNotFound,
	"ErrRecordNotFound":       apdu.ErrRecordNotFound,
	"ErrIncorrectData":        apdu.ErrIncorrectData,
	"ErrReferenceNotFound":    apdu.ErrReferenceNotFound,
	"ErrWrongParameters":      apdu.ErrWrongParameters,
	"ErrInsNotSupported":      apdu.ErrInsNotSupported,
	"ErrClaNotSupported":      apdu.ErrClaNotSupported,
	"ErrFileDeactivated":      apdu.ErrFileDeactivated,
	"ErrUnexpectedStatusWord": apdu.ErrUnexpectedStatusWord,
}

func TestStatusErrorIs(t *testing.T) {
	tests := []struct {
		sw    apdu.StatusWord
		match []string // besides ErrUnexpectedStatusWord, which every status error matches
	}{
		{0x6700, []string{"ErrWrongLength"}},
		{0x6C00, []string{"ErrWrongLength"}},
		{0x6C10, []string{"ErrWrongLength"}},
		{0x6982, []string{"ErrSecurityStatus"}},
		{0x6983, []string{"ErrBlocked"}},
		{0x63C0, []string{"ErrVerificationFailed"}},
		{0x63C2, []string{"ErrVerificationFailed"}},
		{0x63CF, []string{"ErrVerificationFailed"}},
		{0x6985, []string{"ErrConditionsNotMet"}},
		{0x6A82, []string{"ErrFileNotFound"}},
		{0x6A83, []string{"ErrRecordNotFound"}},
		{0x6A80, []string{"ErrIncorrectData"}},
		{0x6A88, []string{"ErrReferenceNotFound"}},
		{0x6A86, []string{"ErrWrongParameters"}},
		{0x6B00, []string{"ErrWrongParameters"}},
		{0x6D00, []string{"ErrInsNotSupported"}},
		{0x6E00, []string{"ErrClaNotSupported"}},
		{0x6881, []string{"ErrClaNotSupported"}},
		{0x6283, []string{"ErrFileDeactivated"}},
		// Status words without a sentinel of their own.
		{0x6300, nil},
		{0x6110, nil},
		{0x6984, nil},
		{0x6A81, nil},
		{0x6F00, nil},
		{0x9001, nil},
	}
	for _, tc := range tests {
		t.Run(tc.sw.String(), func(t *testing.T) {
			err := tc.sw.Err()
			if err == nil {
				t.Fatalf("Err() = nil")
			}
			want := map[string]bool{"ErrUnexpectedStatusWord": true}
			for _, m := range tc.match {
				want[m] = true
			}
			// Check both the bare error and one wrapped the way Run does.
			wrapped := fmt.Errorf("00 A4 08 0C Lc=4 Le=0: %w", err)
			for name, sentinel := range allSentinels {
				if got := errors.Is(err, sentinel); got != want[name] {
					t.Errorf("errors.Is(%v, %s) = %v, want %v", err, name, got, want[name])
				}
				if got := errors.Is(wrapped, sentinel); got != want[name] {
					t.Errorf("errors.Is(wrapped, %s) = %v, want %v", name, got, want[name])
				}
			}
			var se *apdu.StatusError
			if !errors.As(wrapped, &se) {
				t.Fatalf("errors.As(wrapped, *StatusError) = false")
			}
			if se.SW != tc.sw {
				t.Errorf("StatusError.SW = %04X, want %04X", uint16(se.SW), uint16(tc.sw))
			}
		})
	}
}

func TestStatusErrorIsUnrelated(t *testing.T) {
	err := apdu.StatusWord(0x6A82).Err()
	for _, other := range []error{apdu.ErrProtocol, apdu.ErrMalformedResponse, apdu.ErrMalformedTLV, errors.New("apdu: file or application not found")} {
		if errors.Is(err, other) {
			t.Errorf("errors.Is(%v, %v) = true", err, other)
		}
	}
}

func TestStatusErrorMessage(t *testing.T) {
	err := apdu.StatusWord(0x63C1).Err()
	if got, want := err.Error(), "apdu: card returned 63C1 (verification failed, 1 tries left)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		data []byte
		sw   apdu.StatusWord
	}{
		{"status word only", h("90 00"), nil, 0x9000},
		{"data and OK", h("01 02 03 90 00"), h("01 02 03"), 0x9000},
		{"data and more", h("AA 61 10"), h("AA"), 0x6110},
		{"error", h("6A 82"), nil, 0x6A82},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := apdu.ParseResponse(tc.in)
			if err != nil {
				t.Fatalf("ParseResponse(% X): %v", tc.in, err)
			}
			if !bytes.Equal(r.Data, tc.data) || r.SW != tc.sw {
				t.Errorf("ParseResponse(% X) = {% X, %v}, want {% X, %v}", tc.in, r.Data, r.SW, tc.data, tc.sw)
			}
			if cap(r.Data) != len(r.Data) {
				t.Errorf("Data has spare capacity %d over the status word", cap(r.Data)-len(r.Data))
			}
			if b := r.Bytes(); !bytes.Equal(b, tc.in) {
				t.Errorf("Bytes() = % X, want % X", b, tc.in)
			}
		})
	}
}

func TestParseResponseMalformed(t *testing.T) {
	for _, in := range [][]byte{nil, {}, {0x90}} {
		if r, err := apdu.ParseResponse(in); !errors.Is(err, apdu.ErrMalformedResponse) {
			t.Errorf("ParseResponse(% X) = %v, %v; want ErrMalformedResponse", in, r, err)
		}
	}
}

func TestResponseErr(t *testing.T) {
	err := apdu.Response{SW: 0x6982}.Err()
	if !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Errorf("Response{SW: 6982}.Err() = %v, want ErrSecurityStatus", err)
	}
	if !strings.Contains(fmt.Sprint(err), "6982") {
		t.Errorf("error %q does not show the status word", err)
	}
}
