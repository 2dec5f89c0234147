package sim

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// script packs APDUs for FuzzTransmit: a length byte before each; the
// length byte 0 stands for a card reset.
func script(apdus ...string) []byte {
	var out []byte
	for _, a := range apdus {
		if a == "reset" {
			out = append(out, 0)
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(a, " ", ""))
		if err != nil {
			panic(err)
		}
		out = append(out, byte(len(b)))
		out = append(out, b...)
	}
	return out
}

// FuzzTransmit feeds arbitrary command sequences to every profile. The
// card must never panic, must always answer with a status word, must keep
// its try counter in range and must never change its files.
func FuzzTransmit(f *testing.F) {
	seeds := [][]byte{
		script("00 A4 08 0C 06 3F 00 DF 01 40 31", "00 B0 00 00 FC", "00 B0 00 FC FC"),
		script("00 A4 02 0C 02 DF 01", "00 A4 02 0C 02 40 33", "00 B0 00 00 00", "00 B0 00 00 75"),
		script("80 E4 00 00 1C", "80 E4 00 01 1F", "80 E4 00 00"),
		script(verify1234, "00 22 41 B6 05 04 80 02 84 82", "00 2A 9E 9A 30 "+strings.Repeat("AB", 48), "00 C0 00 00 60"),
		script("00 22 41 B6 05 04 80 08 84 83", verify1234, "00 2A 9E 9A 20 "+strings.Repeat("CD", 32), "00 C0 00 00 80", "00 C0 00 00 80"),
		script("00 88 02 81 32 94 30 "+strings.Repeat("11", 48), "00 C0 00 00 60", "reset", "00 C0 00 00 60"),
		script(verifyBad, verifyBad, verifyBad, verify1234, "00 20 00 01"),
		script("00 24 00 01 10 "+pinBlock("1234")+pinBlock("5678"), "80 E6 00 00"),
		script("00 A4 04 00", "00 A4 04 0C 0F A0 00 00 00 30 29 05 70 00 AD 13 10 01 01 FF", "00 84 00 00 08"),
		script("00 A4 08 0C 04 DF 01 40 31", "80 B2 00 FF 00", "80 B2 05 01 00"),
		{0x01, 0x00, 0x04, 0x00, 0xB0},
		{0x07, 0x00, 0xA4, 0x08, 0x0C, 0x00, 0x00, 0x02},
	}
	for _, s := range seeds {
		for i := range profiles {
			f.Add(byte(i), s)
		}
	}
	bases := make([]*Card, len(profiles))
	idFiles := make([][]byte, len(profiles))
	for i, p := range profiles {
		bases[i] = baseCard(f, p)
		idFiles[i], _ = bases[i].File(beid.FileIdentity)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, profile byte, in []byte) {
		i := int(profile) % len(bases)
		base := bases[i]
		c := fork(base)
		for len(in) > 0 {
			n := int(in[0])
			in = in[1:]
			if n == 0 {
				c.Reset()
				continue
			}
			n = min(n, len(in))
			cmd := in[:n]
			in = in[n:]
			resp, err := c.Transmit(ctx, cmd)
			if err != nil {
				t.Fatalf("Transmit(% X): %v", cmd, err)
			}
			if len(resp) < 2 || len(resp) > 258 {
				t.Fatalf("Transmit(% X) = % X", cmd, resp)
			}
			if tries := c.TriesLeft(); tries < 0 || tries > maxPINTries {
				t.Fatalf("tries %d", tries)
			}
		}
		if got, _ := base.File(beid.FileIdentity); !bytes.Equal(got, idFiles[i]) {
			t.Fatal("the identity file changed")
		}
	})
}
