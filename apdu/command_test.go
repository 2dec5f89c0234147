package apdu_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// commandCases are well-formed commands with their exact encoding. They are
// shared by the Bytes, ParseCommand and round-trip tests.
var commandCases = []struct {
	name string
	cmd  apdu.Command
	want []byte
	// parsed is what ParseCommand returns for want, when it differs from cmd
	// (Extended is only visible on the wire when there is a length field).
	parsed *apdu.Command
}{
	// Case 1: header only.
	{
		name: "case1",
		cmd:  apdu.Command{CLA: 0x00, INS: 0xA4, P1: 0x00, P2: 0x0C},
		want: h("00 A4 00 0C"),
	},
	{
		name:   "case1 Extended has no length field to extend",
		cmd:    apdu.Command{CLA: 0x80, INS: 0xE4, Extended: true},
		want:   h("80 E4 00 00"),
		parsed: &apdu.Command{CLA: 0x80, INS: 0xE4},
	},
	// Case 2: Le only.
	{
		name: "case2 short Le=1",
		cmd:  apdu.Command{INS: apdu.InsReadBinary, P1: 0x01, P2: 0x02, Le: 1},
		want: h("00 B0 01 02 01"),
	},
	{
		name: "case2 short Le=255",
		cmd:  apdu.Command{INS: apdu.InsReadBinary, Le: 255},
		want: h("00 B0 00 00 FF"),
	},
	{
		name: "case2 short Le=256 is 00",
		cmd:  apdu.Command{INS: apdu.InsReadBinary, Le: 256},
		want: h("00 B0 00 00 00"),
	},
	{
		name:   "case2 extended by itself for Le=257",
		cmd:    apdu.Command{INS: apdu.InsReadBinary, Le: 257},
		want:   h("00 B0 00 00 00 01 01"),
		parsed: &apdu.Command{INS: apdu.InsReadBinary, Le: 257, Extended: true},
	},
	{
		name:   "case2 extended Le=65536 is 0000",
		cmd:    apdu.Command{INS: apdu.InsReadBinary, Le: 65536},
		want:   h("00 B0 00 00 00 00 00"),
		parsed: &apdu.Command{INS: apdu.InsReadBinary, Le: 65536, Extended: true},
	},
	{
		name: "case2 extended forced Le=256",
		cmd:  apdu.Command{INS: apdu.InsReadBinary, Le: 256, Extended: true},
		want: h("00 B0 00 00 00 01 00"),
	},
	{
		name: "case2 extended forced Le=1",
		cmd:  apdu.Command{INS: apdu.InsReadBinary, Le: 1, Extended: true},
		want: h("00 B0 00 00 00 00 01"),
	},
	// Case 3: data, no Le.
	{
		name: "case3 short",
		cmd:  apdu.Command{INS: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: h("DF01 4031")},
		want: h("00 A4 08 0C 04 DF01 4031"),
	},
	{
		name: "case3 short 255 bytes",
		cmd:  apdu.Command{INS: apdu.InsPSO, Data: seq(1, 255)},
		want: cat(h("00 2A 00 00 FF"), seq(1, 255)),
	},
	{
		name:   "case3 extended by itself for 256 bytes",
		cmd:    apdu.Command{INS: apdu.InsPSO, Data: seq(1, 256)},
		want:   cat(h("00 2A 00 00 00 01 00"), seq(1, 256)),
		parsed: &apdu.Command{INS: apdu.InsPSO, Data: seq(1, 256), Extended: true},
	},
	{
		name: "case3 extended forced",
		cmd:  apdu.Command{INS: apdu.InsPSO, Data: h("AA BB"), Extended: true},
		want: h("00 2A 00 00 00 00 02 AA BB"),
	},
	{
		name:   "case3 extended 65535 bytes",
		cmd:    apdu.Command{INS: apdu.InsPSO, Data: seq(0, 65535)},
		want:   cat(h("00 2A 00 00 00 FF FF"), seq(0, 65535)),
		parsed: &apdu.Command{INS: apdu.InsPSO, Data: seq(0, 65535), Extended: true},
	},
	// Case 4: data and Le.
	{
		name: "case4 short",
		cmd:  apdu.Command{CLA: 0x80, INS: apdu.InsInternalAuth, Data: h("01 02 03"), Le: 0x80},
		want: h("80 88 00 00 03 010203 80"),
	},
	{
		name: "case4 short Le=256 is 00",
		cmd:  apdu.Command{INS: apdu.InsSelect, P1: 0x04, Data: h("A0 00 00 01 77"), Le: 256},
		want: h("00 A4 04 00 05 A000000177 00"),
	},
	{
		name: "case4 short 255 bytes",
		cmd:  apdu.Command{INS: apdu.InsPSO, Data: seq(7, 255), Le: 1},
		want: cat(h("00 2A 00 00 FF"), seq(7, 255), h("01")),
	},
	{
		name:   "case4 extended by itself for 256 data bytes",
		cmd:    apdu.Command{INS: apdu.InsPSO, Data: seq(1, 256), Le: 1},
		want:   cat(h("00 2A 00 00 00 01 00"), seq(1, 256), h("00 01")),
		parsed: &apdu.Command{INS: apdu.InsPSO, Data: seq(1, 256), Le: 1, Extended: true},
	},
	{
		name:   "case4 extended by itself for Le=257",
		cmd:    apdu.Command{INS: apdu.InsPSO, Data: h("11 22"), Le: 257},
		want:   h("00 2A 00 00 00 00 02 1122 01 01"),
		parsed: &apdu.Command{INS: apdu.InsPSO, Data: h("11 22"), Le: 257, Extended: true},
	},
	{
		name:   "case4 extended Le=65536 is 0000",
		cmd:    apdu.Command{INS: apdu.InsPSO, Data: h("11"), Le: 65536},
		want:   h("00 2A 00 00 00 00 01 11 00 00"),
		parsed: &apdu.Command{INS: apdu.InsPSO, Data: h("11"), Le: 65536, Extended: true},
	},
	{
		name: "case4 extended forced Le=256",
		cmd:  apdu.Command{INS: apdu.InsPSO, Data: h("11"), Le: 256, Extended: true},
		want: h("00 2A 00 00 00 00 01 11 01 00"),
	},
}

func TestCommandBytes(t *testing.T) {
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cmd.Bytes()
			if err != nil {
				t.Fatalf("Bytes() error: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("Bytes() =\n% X\nwant\n% X", got, tc.want)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.cmd
			if tc.parsed != nil {
				want = *tc.parsed
			}
			got, err := apdu.ParseCommand(tc.want)
			if err != nil {
				t.Fatalf("ParseCommand(% X) error: %v", tc.want, err)
			}
			if !equalCommand(got, want) {
				t.Errorf("ParseCommand(% X) =\n%s\nwant\n%s", tc.want, fmtCommand(got), fmtCommand(want))
			}
		})
	}
}

// TestCommandRoundTrip checks Bytes → ParseCommand → Bytes over a grid of
// data and Le lengths around the short/extended boundaries.
func TestCommandRoundTrip(t *testing.T) {
	lens := []int{0, 1, 2, 127, 128, 254, 255, 256, 257, 4096, 65534, 65535}
	les := []int{0, 1, 2, 255, 256, 257, 4096, 65535, 65536}
	for _, n := range lens {
		for _, le := range les {
			for _, ext := range []bool{false, true} {
				c := apdu.Command{CLA: 0x0C, INS: 0xCA, P1: 0x9F, P2: 0x7F, Data: seq(byte(n), n), Le: le, Extended: ext}
				t.Run(fmt.Sprintf("data=%d/Le=%d/ext=%v", n, le, ext), func(t *testing.T) {
					b := mustBytes(t, c)
					wantExt := (ext || n > apdu.MaxShortData || le > apdu.MaxShortLe) && (n > 0 || le > 0)
					if wantLen := encodedLen(n, le, wantExt); len(b) != wantLen {
						t.Errorf("len(Bytes()) = %d, want %d", len(b), wantLen)
					}
					got, err := apdu.ParseCommand(b)
					if err != nil {
						t.Fatalf("ParseCommand(Bytes()) error: %v", err)
					}
					want := c
					want.Extended = wantExt
					if !equalCommand(got, want) {
						t.Errorf("ParseCommand(Bytes()) = %s, want %s", got, want)
					}
					if again := mustBytes(t, got); !bytes.Equal(again, b) {
						t.Errorf("re-encoding the parsed command changed the bytes")
					}
				})
			}
		}
	}
}

func encodedLen(n, le int, ext bool) int {
	l := 4 + n
	if ext {
		if n > 0 {
			l += 3
		}
		if le > 0 {
			l += 2
			if n == 0 {
				l++
			}
		}
		return l
	}
	if n > 0 {
		l++
	}
	if le > 0 {
		l++
	}
	return l
}

func TestCommandBytesInvalid(t *testing.T) {
	tests := []struct {
		name string
		cmd  apdu.Command
	}{
		{"data longer than extended Lc", apdu.Command{Data: make([]byte, apdu.MaxExtendedData+1)}},
		{"negative Le", apdu.Command{Le: -1}},
		{"Le beyond extended", apdu.Command{Le: apdu.MaxExtendedLe + 1}},
		{"Le beyond extended with data", apdu.Command{Data: h("01"), Le: 1 << 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.cmd.Bytes()
			if !errors.Is(err, apdu.ErrInvalidCommand) {
				t.Fatalf("Bytes() error = %v, want ErrInvalidCommand", err)
			}
			if b != nil {
				t.Errorf("Bytes() returned %d bytes along with an error", len(b))
			}
		})
	}
}

func TestParseCommandMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"one byte", h("00")},
		{"truncated header", h("00 A4 04")},
		{"short Lc larger than body", h("00 A4 04 00 03 0102")},
		{"short Lc smaller than body", h("00 A4 04 00 02 010203 04")},
		{"short Lc with two trailing bytes", h("00 A4 04 00 01 01 0000")},
		{"extended truncated length", h("00 B0 00 00 00 01")},
		{"extended Lc zero", h("00 B0 00 00 00 00 00 01")},
		{"extended Lc zero with Le", h("00 B0 00 00 00 00 00 00 10")},
		{"extended Lc larger than body", h("00 2A 00 00 00 00 03 0102")},
		{"extended Lc smaller than body", h("00 2A 00 00 00 00 01 0102")},
		{"extended case4 with one-byte Le", h("00 2A 00 00 00 00 02 0102 05")},
		{"extended case4 with three-byte Le", h("00 2A 00 00 00 00 02 0102 000005")},
		{"extended Lc FFFF truncated", cat(h("00 2A 00 00 00 FF FF"), make([]byte, 100))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apdu.ParseCommand(tc.in)
			if !errors.Is(err, apdu.ErrMalformedCommand) {
				t.Fatalf("ParseCommand(% X) = %s, %v; want ErrMalformedCommand", tc.in, fmtCommand(c), err)
			}
		})
	}
}

// TestParseCommandDataNoSpareCapacity checks that appending to a parsed
// command's data cannot overwrite the Le byte in the caller's buffer.
func TestParseCommandDataNoSpareCapacity(t *testing.T) {
	for _, in := range [][]byte{
		h("00 2A 00 00 02 AABB 10"),
		h("00 2A 00 00 02 AABB"),
		h("00 2A 00 00 00 00 02 AABB 0010"),
		h("00 2A 00 00 00 00 02 AABB"),
	} {
		orig := bytes.Clone(in)
		c, err := apdu.ParseCommand(in)
		if err != nil {
			t.Fatalf("ParseCommand(% X): %v", in, err)
		}
		if cap(c.Data) != len(c.Data) {
			t.Errorf("ParseCommand(% X): cap(Data) = %d, len = %d", orig, cap(c.Data), len(c.Data))
		}
		_ = append(c.Data, 0xEE)
		if !bytes.Equal(in, orig) {
			t.Errorf("appending to Data changed the input: % X, was % X", in, orig)
		}
	}
}

func TestCommandChain(t *testing.T) {
	data := seq(0x30, 10)
	c := apdu.Command{CLA: 0x80, INS: apdu.InsPSO, P1: 0x9E, P2: 0x9A, Data: data, Le: 256}
	tests := []struct {
		name  string
		size  int
		sizes []int // data length of each part
	}{
		{"uneven", 4, []int{4, 4, 2}},
		{"even", 5, []int{5, 5}},
		{"one byte each", 1, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"size equal to data is not chained", 10, []int{10}},
		{"size larger than data is not chained", 255, []int{10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := c.Chain(tc.size)
			if err != nil {
				t.Fatalf("Chain(%d): %v", tc.size, err)
			}
			if len(parts) != len(tc.sizes) {
				t.Fatalf("Chain(%d) gave %d commands, want %d", tc.size, len(parts), len(tc.sizes))
			}
			var joined []byte
			for i, p := range parts {
				last := i == len(parts)-1
				wantCLA, wantLe := byte(0x90), 0
				if last {
					wantCLA, wantLe = 0x80, 256
				}
				if p.CLA != wantCLA {
					t.Errorf("part %d: CLA = %02X, want %02X", i, p.CLA, wantCLA)
				}
				if p.Le != wantLe {
					t.Errorf("part %d: Le = %d, want %d", i, p.Le, wantLe)
				}
				if p.INS != c.INS || p.P1 != c.P1 || p.P2 != c.P2 {
					t.Errorf("part %d: header %s, want INS/P1/P2 of %s", i, p, c)
				}
				if len(p.Data) != tc.sizes[i] {
					t.Errorf("part %d: %d data bytes, want %d", i, len(p.Data), tc.sizes[i])
				}
				if b := mustBytes(t, p); len(b) > 4+1+apdu.MaxShortData+1 || (len(b) > 5 && b[4] == 0) {
					t.Errorf("part %d is not a short command: % X", i, b)
				}
				joined = append(joined, p.Data...)
			}
			if !bytes.Equal(joined, data) {
				t.Errorf("joined chain data = % X, want % X", joined, data)
			}
		})
	}
}

func TestCommandChainNoData(t *testing.T) {
	c := apdu.Command{INS: apdu.InsGetChallenge, Le: 8}
	parts, err := c.Chain(16)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || !equalCommand(parts[0], c) {
		t.Errorf("Chain of a data-less command = %v, want [%s]", parts, c)
	}
}

func TestCommandChainInvalidSize(t *testing.T) {
	c := apdu.Command{INS: apdu.InsPSO, Data: seq(0, 10)}
	for _, size := range []int{-1, 0, apdu.MaxShortData + 1, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			if parts, err := c.Chain(size); !errors.Is(err, apdu.ErrInvalidCommand) {
				t.Errorf("Chain(%d) = %v, %v; want ErrInvalidCommand", size, parts, err)
			}
		})
	}
}

func TestCommandStringHidesData(t *testing.T) {
	// A VERIFY command with a format-2 PIN block for PIN 1234.
	pinBlock := h("24 12 34 FF FF FF FF FF")
	c := apdu.Command{INS: apdu.InsVerify, P2: 0x01, Data: pinBlock}
	renderings := map[string]string{
		"String":        c.String(),
		"%v":            fmt.Sprintf("%v", c),
		"%s":            fmt.Sprintf("%s", c), //lint:ignore S1025 how fmt prints a Command is what is tested
		"%+v":           fmt.Sprintf("%+v", c),
		"ptr %v":        fmt.Sprintf("%v", &c),
		"wrapped error": fmt.Errorf("%s: %w", c, apdu.SWSecurityStatus.Err()).Error(),
	}
	for name, s := range renderings {
		t.Run(name, func(t *testing.T) {
			if want := "00 20 00 01 Lc=8 Le=0"; !strings.Contains(s, want) {
				t.Errorf("%q does not contain %q", s, want)
			}
			for _, leak := range []string{"1234", "12 34", "2412", "24 12", "[36 18 52", "FFFFFF", "FF FF FF", "ffffff"} {
				if strings.Contains(s, leak) {
					t.Errorf("%q shows data bytes (%q)", s, leak)
				}
			}
		})
	}
}
