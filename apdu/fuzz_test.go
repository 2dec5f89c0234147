package apdu_test

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"github.com/cardbridge/cardbridge/apdu"
)

// Run a target with, for example:
//
//	go test ./apdu -run='^$' -fuzz=FuzzParseCommand -fuzztime=20s
//
// Crashers found by a fuzz run are stored in testdata/fuzz/<target>/ and
// replayed by plain `go test` from then on.

func FuzzParseCommand(f *testing.F) {
	for _, tc := range commandCases {
		if len(tc.want) < 600 {
			f.Add(tc.want)
		}
	}
	for _, s := range []string{
		"", "00", "00A404", "00A40400", "00A4040000", "00A40400 00 01",
		"00B00000 000000", "00B00000 000001 AA", "00B00000 00 0003 0102",
		"002A0000 02 0102 0304", "002A0000 00 0002 0102 05",
	} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		c, err := apdu.ParseCommand(in)
		if err != nil {
			if !errors.Is(err, apdu.ErrMalformedCommand) {
				t.Fatalf("ParseCommand(% X) error %v is not ErrMalformedCommand", in, err)
			}
			return
		}
		if !bytes.Equal(in, orig) {
			t.Fatalf("ParseCommand modified its input")
		}
		if len(c.Data) > apdu.MaxExtendedData || c.Le < 0 || c.Le > apdu.MaxExtendedLe {
			t.Fatalf("ParseCommand(% X) = %s: lengths out of range", in, fmtCommand(c))
		}
		re, err := c.Bytes()
		if err != nil {
			t.Fatalf("ParseCommand(% X) = %s, which Bytes cannot encode: %v", in, fmtCommand(c), err)
		}
		// Every accepted encoding is the canonical one.
		if !bytes.Equal(re, in) {
			t.Fatalf("ParseCommand(% X).Bytes() = % X", in, re)
		}
		c2, err := apdu.ParseCommand(re)
		if err != nil {
			t.Fatalf("ParseCommand(Bytes()) error: %v", err)
		}
		if !equalCommand(c, c2) {
			t.Fatalf("round trip changed the command: %s → %s", fmtCommand(c), fmtCommand(c2))
		}
	})
}

// within reports whether the non-empty slice v lies inside in.
func within(v, in []byte) bool {
	if len(v) == 0 {
		return true
	}
	if len(in) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	return p >= start && p+uintptr(len(v)) <= start+uintptr(len(in))
}

// checkTLVValues checks that the values lie inside in, in order and without
// overlapping, and have no spare capacity.
func checkTLVValues(t *testing.T, tlvs []apdu.TLV, in []byte) {
	t.Helper()
	next := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	for i, e := range tlvs {
		if !within(e.Value, in) {
			t.Fatalf("element %d (tag %X, %d bytes) lies outside the input", i, e.Tag, len(e.Value))
		}
		if cap(e.Value) != len(e.Value) {
			t.Fatalf("element %d (tag %X): cap %d > len %d", i, e.Tag, cap(e.Value), len(e.Value))
		}
		if len(e.Value) > 0 {
			p := uintptr(unsafe.Pointer(unsafe.SliceData(e.Value)))
			if p < next {
				t.Fatalf("element %d (tag %X) overlaps the previous one", i, e.Tag)
			}
			next = p + uintptr(len(e.Value))
		}
	}
}

func FuzzParseBER(f *testing.F) {
	for _, s := range []string{
		"", "00", "FF", "80 02 0102", "5F20 03 414243", "DF8101 01 AA", "DF818203 01 AA",
		"DF 81 82 83 04 00", "04 81 80", "04 82 0100", "04 83 000001 AA", "04 84 00000001 AA",
		"30 80 0000", "00 FF 80 01 AA 00 81 01 BB FF", "62 06 80 01 11 83 01 22",
		"7F49 0A 86 08 0102030405060708", "1F", "1F 80 80 80 80", "80 81", "80 82 FF",
	} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tlvs, err := apdu.ParseBER(in)
		if err != nil {
			if !errors.Is(err, apdu.ErrMalformedTLV) {
				t.Fatalf("ParseBER(% X) error %v is not ErrMalformedTLV", in, err)
			}
			if tlvs != nil {
				t.Fatalf("ParseBER returned elements along with an error")
			}
			return
		}
		checkTLVValues(t, tlvs, in)
		var all []byte
		for i, e := range tlvs {
			one := apdu.AppendBER(nil, e.Tag, e.Value)
			got, err := apdu.ParseBER(one)
			if err != nil {
				t.Fatalf("element %d: ParseBER(AppendBER(%X, % X)) error: %v", i, e.Tag, e.Value, err)
			}
			if want := []apdu.TLV{e}; !equalTLVs(got, want) {
				t.Fatalf("element %d: AppendBER re-parses as %s, want %s", i, fmtTLVs(got), fmtTLVs(want))
			}
			all = append(all, one...)
			_ = e.Constructed()
			if _, found, err := apdu.FindBER(in, e.Tag); err != nil || !found {
				t.Fatalf("FindBER(%X) = %v, %v on input that parsed", e.Tag, found, err)
			}
		}
		got, err := apdu.ParseBER(all)
		if err != nil || !equalTLVs(got, tlvs) {
			t.Fatalf("re-encoded sequence parses as %s, %v; want %s", fmtTLVs(got), err, fmtTLVs(tlvs))
		}
	})
}

// appendSimple is a reference simple-TLV encoder.
func appendSimple(dst []byte, tag byte, v []byte) []byte {
	if len(v) < 0xFF {
		dst = append(dst, tag, byte(len(v)))
	} else {
		dst = append(dst, tag, 0xFF, byte(len(v)>>8), byte(len(v)))
	}
	return append(dst, v...)
}

func FuzzParseSimple(f *testing.F) {
	for _, s := range []string{
		"", "00", "FF", "01", "01 00", "01 02 AABB", "FE 01 AA", "C0 FF 0002 AABB",
		"C0 FF 0000", "01 FF", "01 FF 01", "01 FF 0100 AABB", "01 01 AA 02 00 03 02 00FF",
	} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tlvs, err := apdu.ParseSimple(in)
		if err != nil {
			if !errors.Is(err, apdu.ErrMalformedTLV) {
				t.Fatalf("ParseSimple(% X) error %v is not ErrMalformedTLV", in, err)
			}
			if tlvs != nil {
				t.Fatalf("ParseSimple returned elements along with an error")
			}
			return
		}
		checkTLVValues(t, tlvs, in)
		var re []byte
		size := 0
		for i, e := range tlvs {
			if e.Tag == 0x00 || e.Tag >= 0xFF {
				t.Fatalf("element %d: invalid simple-TLV tag %X", i, e.Tag)
			}
			if len(e.Value) > 0xFFFF {
				t.Fatalf("element %d: %d bytes is more than a simple-TLV length can say", i, len(e.Value))
			}
			re = appendSimple(re, byte(e.Tag), e.Value)
			size += 2 + len(e.Value)
		}
		// A simple-TLV sequence has no padding: the elements account for
		// every input byte (2 header bytes each, or 4 with an FF length).
		if extra := len(in) - size; extra < 0 || extra%2 != 0 || extra/2 > len(tlvs) {
			t.Fatalf("%d elements with %d value bytes from %d input bytes", len(tlvs), size-2*len(tlvs), len(in))
		}
		got, err := apdu.ParseSimple(re)
		if err != nil || !equalTLVs(got, tlvs) {
			t.Fatalf("re-encoded sequence parses as %s, %v; want %s", fmtTLVs(got), err, fmtTLVs(tlvs))
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"", "90", "9000", "6A82", "010203 9000", "AA 6110", "6C00", "63C2", "0000"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := apdu.ParseResponse(in)
		if len(in) < 2 {
			if !errors.Is(err, apdu.ErrMalformedResponse) {
				t.Fatalf("ParseResponse(% X) error = %v, want ErrMalformedResponse", in, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseResponse(% X): %v", in, err)
		}
		n := len(in) - 2
		if !bytes.Equal(r.Data, in[:n]) || r.SW.SW1() != in[n] || r.SW.SW2() != in[n+1] {
			t.Fatalf("ParseResponse(% X) = {% X, %v}", in, r.Data, r.SW)
		}
		if !within(r.Data, in) || cap(r.Data) != len(r.Data) {
			t.Fatalf("Data does not alias the input without spare capacity")
		}
		if b := r.Bytes(); !bytes.Equal(b, in) {
			t.Fatalf("Bytes() = % X, want % X", b, in)
		}
		_ = r.SW.String()
		rerr := r.Err()
		if (rerr == nil) != r.SW.OK() {
			t.Fatalf("SW %v: Err() = %v", r.SW, rerr)
		}
		if rerr != nil {
			var se *apdu.StatusError
			if !errors.As(rerr, &se) || se.SW != r.SW {
				t.Fatalf("Err() = %v, not a *StatusError for %v", rerr, r.SW)
			}
			if !errors.Is(rerr, apdu.ErrUnexpectedStatusWord) {
				t.Fatalf("Err() = %v does not match ErrUnexpectedStatusWord", rerr)
			}
		}
	})
}
