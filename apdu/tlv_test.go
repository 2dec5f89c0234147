package apdu_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func fmtTLVs(tlvs []apdu.TLV) string {
	s := "["
	for i, t := range tlvs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%X:% X", t.Tag, t.Value)
	}
	return s + "]"
}

func equalTLVs(a, b []apdu.TLV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Tag != b[i].Tag || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func TestParseBER(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []apdu.TLV
	}{
		{"empty", nil, nil},
		{"one-byte tag", h("80 02 0102"), []apdu.TLV{{0x80, h("0102")}}},
		{"zero length", h("83 00"), []apdu.TLV{{0x83, h("")}}},
		{"value may contain 00 and FF", h("80 03 00FF00"), []apdu.TLV{{0x80, h("00FF00")}}},
		{"sequence", h("01 01 AA 02 00 03 02 BBCC"), []apdu.TLV{{0x01, h("AA")}, {0x02, nil}, {0x03, h("BBCC")}}},
		{"two-byte tag", h("5F20 03 414243"), []apdu.TLV{{0x5F20, h("414243")}}},
		{"two-byte constructed tag", h("7F49 03 860101"), []apdu.TLV{{0x7F49, h("860101")}}},
		{"two-byte tag 1F1F", h("1F1F 01 AA"), []apdu.TLV{{0x1F1F, h("AA")}}},
		{"three-byte tag", h("DF8101 01 AA"), []apdu.TLV{{0xDF8101, h("AA")}}},
		{"three-byte tag 9F8102", h("9F8102 00"), []apdu.TLV{{0x9F8102, nil}}},
		{"four-byte tag", h("DF818203 01 AA"), []apdu.TLV{{0xDF818203, h("AA")}}},
		{"81 length", cat(h("04 81 80"), seq(0, 128)), []apdu.TLV{{0x04, seq(0, 128)}}},
		{"81 length FF", cat(h("04 81 FF"), seq(0, 255)), []apdu.TLV{{0x04, seq(0, 255)}}},
		{"82 length", cat(h("04 82 0100"), seq(0, 256), h("05 01 AA")), []apdu.TLV{{0x04, seq(0, 256)}, {0x05, h("AA")}}},
		{"83 length", cat(h("04 83 010000"), seq(0, 65536)), []apdu.TLV{{0x04, seq(0, 65536)}}},
		{"127-byte value with short length", cat(h("04 7F"), seq(0, 127)), []apdu.TLV{{0x04, seq(0, 127)}}},
		{"padding before, between and after", h("00 FF 80 01 AA 00 00 FF 81 01 BB FF 00"), []apdu.TLV{{0x80, h("AA")}, {0x81, h("BB")}}},
		{"only padding", h("00 00 FF FF 00"), nil},
		{"constructed is not descended into", h("30 06 80 01 AA 81 01 BB"), []apdu.TLV{{0x30, h("8001AA 8101BB")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apdu.ParseBER(tc.in)
			if err != nil {
				t.Fatalf("ParseBER: %v", err)
			}
			if !equalTLVs(got, tc.want) {
				t.Errorf("ParseBER(% X) = %s, want %s", tc.in, fmtTLVs(got), fmtTLVs(tc.want))
			}
			for i, e := range got {
				if cap(e.Value) != len(e.Value) {
					t.Errorf("element %d: Value has spare capacity; appending to it would overwrite the input", i)
				}
			}
		})
	}
}

func TestParseBERAliasesInput(t *testing.T) {
	in := h("5F20 03 414243")
	tlvs, err := apdu.ParseBER(in)
	if err != nil || len(tlvs) != 1 {
		t.Fatalf("ParseBER = %s, %v", fmtTLVs(tlvs), err)
	}
	in[3] = 'Z'
	if tlvs[0].Value[0] != 'Z' {
		t.Errorf("Value does not alias the input")
	}
}

func TestParseBERMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated two-byte tag", h("5F")},
		{"truncated three-byte tag", h("DF 81")},
		{"five-byte tag", h("DF 81 82 83 04 00")},
		{"missing length", h("80")},
		{"missing length after two-byte tag", h("5F20")},
		{"missing length after padding", h("00 80 01 AA 00 81")},
		{"truncated value", h("80 03 0102")},
		{"81 without length byte", h("80 81")},
		{"82 with one length byte", h("80 82 01")},
		{"83 with two length bytes", h("80 83 0100")},
		{"81 length beyond input", cat(h("80 81 80"), seq(0, 127))},
		{"82 length beyond input", h("80 82 FFFF 00")},
		{"indefinite length", h("30 80 80 01 AA 00 00")},
		{"four length bytes", h("80 84 00000001 AA")},
		{"length byte FF", h("80 FF")},
		{"second element truncated", h("80 01 AA 81 05 0102")},
		{"truncated after padding", h("80 01 AA FF 00 5F")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apdu.ParseBER(tc.in)
			if !errors.Is(err, apdu.ErrMalformedTLV) {
				t.Fatalf("ParseBER(% X) = %s, %v; want ErrMalformedTLV", tc.in, fmtTLVs(got), err)
			}
			if got != nil {
				t.Errorf("ParseBER returned %d elements along with an error", len(got))
			}
			if _, _, err := apdu.FindBER(tc.in, 0x80); !errors.Is(err, apdu.ErrMalformedTLV) {
				t.Errorf("FindBER error = %v, want ErrMalformedTLV", err)
			}
		})
	}
}

func TestFindBER(t *testing.T) {
	// An FCI-like template: 62 wrapping 80 and 83, followed by two 80s at
	// the top level.
	in := h("62 06 80 01 11 83 01 22   80 01 33   80 01 44   5F20 00")
	tests := []struct {
		name  string
		tag   uint32
		want  []byte
		found bool
	}{
		{"first of duplicates at top level", 0x80, h("33"), true},
		{"constructed", 0x62, h("800111 830122"), true},
		{"nested only is not found", 0x83, nil, false},
		{"two-byte tag with empty value", 0x5F20, h(""), true},
		{"absent", 0x5F21, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := apdu.FindBER(in, tc.tag)
			if err != nil {
				t.Fatalf("FindBER(%X): %v", tc.tag, err)
			}
			if found != tc.found || !bytes.Equal(got, tc.want) {
				t.Errorf("FindBER(%X) = % X, %v; want % X, %v", tc.tag, got, found, tc.want, tc.found)
			}
			if !found && got != nil {
				t.Errorf("FindBER(%X) not found but returned % X", tc.tag, got)
			}
		})
	}
}

func TestTLVConstructed(t *testing.T) {
	tests := []struct {
		tag  uint32
		want bool
	}{
		{0x00, false},
		{0x04, false},
		{0x20, true},
		{0x30, true},
		{0x61, true},
		{0x62, true},
		{0x6F, true},
		{0x80, false},
		{0xA0, true},
		{0xA5, true},
		{0x5F20, false},
		{0x7F49, true},
		{0x7F21, true},
		{0x9F8102, false},
		{0xBF8101, true},
		{0xDF818203, false},
		{0xFF818203, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%X", tc.tag), func(t *testing.T) {
			if got := (apdu.TLV{Tag: tc.tag}).Constructed(); got != tc.want {
				t.Errorf("TLV{Tag: %X}.Constructed() = %v, want %v", tc.tag, got, tc.want)
			}
		})
	}
}

func TestAppendBER(t *testing.T) {
	tests := []struct {
		name  string
		tag   uint32
		value []byte
		want  []byte
	}{
		{"empty value", 0x80, nil, h("80 00")},
		{"one-byte tag", 0x80, h("AA"), h("80 01 AA")},
		{"two-byte tag", 0x5F20, h("41"), h("5F20 01 41")},
		{"three-byte tag", 0xDF8101, h("41"), h("DF8101 01 41")},
		{"four-byte tag", 0xDF818203, h("41"), h("DF818203 01 41")},
		{"127 bytes", 0x04, seq(0, 127), cat(h("04 7F"), seq(0, 127))},
		{"128 bytes", 0x04, seq(0, 128), cat(h("04 81 80"), seq(0, 128))},
		{"255 bytes", 0x04, seq(0, 255), cat(h("04 81 FF"), seq(0, 255))},
		{"256 bytes", 0x04, seq(0, 256), cat(h("04 82 0100"), seq(0, 256))},
		{"65535 bytes", 0x04, seq(0, 65535), cat(h("04 82 FFFF"), seq(0, 65535))},
		{"65536 bytes", 0x04, seq(0, 65536), cat(h("04 83 010000"), seq(0, 65536))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := h("CAFE")
			got := apdu.AppendBER(bytes.Clone(prefix), tc.tag, tc.value)
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("AppendBER clobbered dst: % X", got[:2])
			}
			if !bytes.Equal(got[2:], tc.want) {
				t.Errorf("AppendBER =\n% X\nwant\n% X", got[2:], tc.want)
			}
			tlvs, err := apdu.ParseBER(got[2:])
			if err != nil {
				t.Fatalf("ParseBER(AppendBER): %v", err)
			}
			if want := []apdu.TLV{{tc.tag, tc.value}}; !equalTLVs(tlvs, want) {
				t.Errorf("ParseBER(AppendBER) = %s, want tag %X with %d bytes", fmtTLVs(tlvs), tc.tag, len(tc.value))
			}
		})
	}
}

// TestAppendBERNested builds a constructed template the way the simulator
// encodes card files and reads it back.
func TestAppendBERNested(t *testing.T) {
	var inner []byte
	inner = apdu.AppendBER(inner, 0x80, h("01"))
	inner = apdu.AppendBER(inner, 0x5F20, seq(0, 200))
	outer := apdu.AppendBER(nil, 0x7F49, inner)
	outer = apdu.AppendBER(outer, 0x81, nil)

	top, err := apdu.ParseBER(outer)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].Tag != 0x7F49 || !top[0].Constructed() || top[1].Tag != 0x81 || top[1].Constructed() {
		t.Fatalf("top level = %s", fmtTLVs(top))
	}
	got, err := apdu.ParseBER(top[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	want := []apdu.TLV{{0x80, h("01")}, {0x5F20, seq(0, 200)}}
	if !equalTLVs(got, want) {
		t.Errorf("nested = %s, want %s", fmtTLVs(got), fmtTLVs(want))
	}
}

func TestParseSimple(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []apdu.TLV
	}{
		{"empty", nil, nil},
		{"one element", h("01 02 AABB"), []apdu.TLV{{0x01, h("AABB")}}},
		{"zero length", h("01 00"), []apdu.TLV{{0x01, nil}}},
		{"tag FE", h("FE 01 AA"), []apdu.TLV{{0xFE, h("AA")}}},
		{"tag with BER multi-byte bits is one byte", h("1F 01 AA"), []apdu.TLV{{0x1F, h("AA")}}},
		{"sequence", h("01 01 AA 02 00 03 02 00FF"), []apdu.TLV{{0x01, h("AA")}, {0x02, nil}, {0x03, h("00FF")}}},
		{"length FE", cat(h("C0 FE"), seq(0, 254)), []apdu.TLV{{0xC0, seq(0, 254)}}},
		{"three-byte length", cat(h("C0 FF 0100"), seq(0, 256), h("C1 01 AA")), []apdu.TLV{{0xC0, seq(0, 256)}, {0xC1, h("AA")}}},
		{"three-byte length for a short value", h("C0 FF 0002 AABB"), []apdu.TLV{{0xC0, h("AABB")}}},
		{"three-byte length zero", h("C0 FF 0000"), []apdu.TLV{{0xC0, nil}}},
		{"three-byte length FFFF", cat(h("C0 FF FFFF"), seq(0, 65535)), []apdu.TLV{{0xC0, seq(0, 65535)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apdu.ParseSimple(tc.in)
			if err != nil {
				t.Fatalf("ParseSimple: %v", err)
			}
			if !equalTLVs(got, tc.want) {
				t.Errorf("ParseSimple(% X) = %s, want %s", tc.in, fmtTLVs(got), fmtTLVs(tc.want))
			}
			for i, e := range got {
				if cap(e.Value) != len(e.Value) {
					t.Errorf("element %d: Value has spare capacity", i)
				}
			}
		})
	}
}

func TestParseSimpleMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"tag 00", h("00 01 AA")},
		{"tag FF", h("FF 01 AA")},
		{"tag 00 after an element (no padding in simple-TLV)", h("01 01 AA 00")},
		{"tag without length", h("01")},
		{"second tag without length", h("01 01 AA 02")},
		{"truncated value", h("01 03 AABB")},
		{"FF without length bytes", h("01 FF")},
		{"FF with one length byte", h("01 FF 01")},
		{"three-byte length beyond input", h("01 FF 0100 AABB")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apdu.ParseSimple(tc.in)
			if !errors.Is(err, apdu.ErrMalformedTLV) {
				t.Fatalf("ParseSimple(% X) = %s, %v; want ErrMalformedTLV", tc.in, fmtTLVs(got), err)
			}
			if got != nil {
				t.Errorf("ParseSimple returned %d elements along with an error", len(got))
			}
		})
	}
}
