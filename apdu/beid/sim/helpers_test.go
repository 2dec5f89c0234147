package sim

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/pcsc/vpcd"
)

// A Card plugs into the virtual reader as it is.
var _ vpcd.Card = (*Card)(nil)

// testPKI holds one hierarchy per profile, made once in TestMain: RSA key
// generation dominates the cost of this package's tests otherwise.
var testPKI = map[Profile]*PKI{}

func TestMain(m *testing.M) {
	var wg sync.WaitGroup
	profiles := Profiles
	errs := make([]error, len(profiles))
	pkis := make([]*PKI, len(profiles))
	for i, p := range profiles {
		wg.Go(func() { pkis[i], errs[i] = NewPKI(p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "making test PKIs:", err)
		os.Exit(1)
	}
	for i, p := range profiles {
		testPKI[p] = pkis[i]
	}
	os.Exit(m.Run())
}

var profiles = Profiles

// newCard makes a card with the shared PKI of its profile.
func newCard(t testing.TB, p Profile) *Card {
	t.Helper()
	c, err := New(Options{Profile: p, PKI: testPKI[p]})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// h decodes hex with optional spaces, failing the test on bad input.
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// tx sends cmd and splits the answer.
func tx(t testing.TB, c *Card, cmd []byte) ([]byte, apdu.StatusWord) {
	t.Helper()
	raw, err := c.Transmit(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Transmit(% X): %v", cmd, err)
	}
	r, err := apdu.ParseResponse(raw)
	if err != nil {
		t.Fatalf("Transmit(% X): %v", cmd, err)
	}
	return r.Data, r.SW
}

// expect sends cmd (hex) and checks the status word.
func expect(t testing.TB, c *Card, cmd string, want apdu.StatusWord) []byte {
	t.Helper()
	data, sw := tx(t, c, h(t, cmd))
	if sw != want {
		t.Fatalf("%s: SW %s, want %s", cmd, sw, want)
	}
	return data
}

// step is one command of a scripted exchange and the status word it must
// get.
type step struct {
	cmd string
	sw  apdu.StatusWord
}

// run sends the steps in order; a step "reset" power-cycles the card.
func run(t testing.TB, c *Card, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.cmd == "reset" {
			c.Reset()
			continue
		}
		data, sw := tx(t, c, h(t, s.cmd))
		if sw != s.sw {
			t.Fatalf("step %d %s: SW %s, want %s (data % X)", i, s.cmd, sw, s.sw, data)
		}
	}
}

// pinBlock encodes a PIN as a 2N block, hex.
func pinBlock(pin string) string {
	s := fmt.Sprintf("2%X%s", len(pin), pin)
	return s + strings.Repeat("F", 16-len(s))
}

const (
	verify1234 = "00 20 00 01 08 24 12 34 FF FF FF FF FF"
	verifyBad  = "00 20 00 01 08 24 99 99 FF FF FF FF FF"
)

// readFile selects path (absolute, hex) and reads it whole with READ
// BINARY in chunks of chunk bytes (0 = Le 00), following 6Cxx as hosts
// do, and stopping on a short read or 6B00.
func readFile(t testing.TB, c *Card, path string, chunk int) []byte {
	t.Helper()
	p := h(t, path)
	sel := append([]byte{0x00, 0xA4, 0x08, 0x0C, byte(len(p))}, p...)
	if _, sw := tx(t, c, sel); sw != apdu.SWOK {
		t.Fatalf("select %s: %s", path, sw)
	}
	var out []byte
	for {
		off := len(out)
		cmd := []byte{0x00, 0xB0, byte(off >> 8), byte(off), byte(chunk)}
		data, sw := tx(t, c, cmd)
		if le, ok := sw.ExactLength(); ok {
			cmd[4] = byte(le)
			data, sw = tx(t, c, cmd)
		}
		switch {
		case sw == apdu.SWWrongP1P2 && off > 0:
			return out
		case sw != apdu.SWOK:
			t.Fatalf("read %s at %d: %s", path, off, sw)
		}
		out = append(out, data...)
		want := chunk
		if want == 0 {
			want = 256
		}
		if len(data) < want {
			return out
		}
	}
}

// trimCert cuts the zero padding after a certificate's DER.
func trimCert(t testing.TB, b []byte) []byte {
	t.Helper()
	if len(b) < 4 || b[0] != 0x30 || b[1] != 0x82 {
		t.Fatalf("certificate file starts % X", b[:min(4, len(b))])
	}
	n := 4 + (int(b[2])<<8 | int(b[3]))
	if !bytes.Equal(b[n:], make([]byte, len(b)-n)) {
		t.Fatal("certificate padding is not all zeros")
	}
	return b[:n]
}
