package beid

// Fuzz targets for what a card sends back. A card is input the host does not
// control: a broken, counterfeit or hostile card must never crash the
// driver, make it loop, or make it accept data that the checks below do not
// back. Run one with, for example:
//
//	go test ./apdu/beid -run='^$' -fuzz='^FuzzCardResponses$' -fuzztime=30s
//
// Crashers are kept in testdata/fuzz/<target>/ and replayed by plain go test.

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func FuzzParseCardData(f *testing.F) {
	for _, s := range []string{
		"", "00",
		// 28-byte answers of each applet, then the 31-byte P2=01 form.
		"534C494E66960000000000000000000000000000 0000 11 0000 00 00 00 00",
		"534C494E66960000000000000000000000000000 0000 17 0000 00 00 00 00",
		"534C494E66960000000000000000000000000000 0000 18 0000 00 00 00 00",
		"534C494E66960000000000000000000000000000 0000 18 0000 00 00 00 00 03 FFFF",
		"534C494E66960000000000000000000000000000 0000 18 0000 00 00 00 00 FF 0000",
		"534C494E66960000000000000000000000000000 0000 19 0000 00 00 00 00",
	} {
		f.Add(hexBytes(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		cd, err := ParseCardData(b)
		if !bytes.Equal(b, orig) {
			t.Fatalf("ParseCardData modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrNotBelpic) {
				t.Fatalf("ParseCardData(% X) error %v does not match ErrNotBelpic", b, err)
			}
			if cd != nil {
				t.Fatalf("ParseCardData returned card data along with an error")
			}
			if len(b) >= cardDataLen && b[21] >= appletFirst {
				t.Fatalf("ParseCardData refused a %d-byte answer of applet %02X: %v", len(b), b[21], err)
			}
			return
		}
		if len(b) < cardDataLen {
			t.Fatalf("ParseCardData accepted %d bytes", len(b))
		}
		if !bytes.Equal(cd.Serial, b[:16]) || cd.AppletVersion != b[21] || cd.LifeCycle != b[27] ||
			cd.GlobalOSVer != uint16(b[22])<<8|uint16(b[23]) {
			t.Fatalf("ParseCardData(% X) = %+v: fields do not match the bytes", b, cd)
		}
		wantTries := -1
		if len(b) > cardDataLen && b[cardDataLen] != 0xFF {
			wantTries = int(b[cardDataLen])
		}
		if cd.PINTriesLeft != wantTries {
			t.Fatalf("PINTriesLeft = %d, want %d", cd.PINTriesLeft, wantTries)
		}
		// The result must not alias the input: the caller's buffer is
		// the transport's and is reused.
		for i := range b {
			b[i] ^= 0xFF
		}
		if !bytes.Equal(cd.Serial, orig[:16]) {
			t.Fatalf("Serial aliases the input")
		}
	})
}

func FuzzECDSARawToASN1(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{0, 1})
	f.Add([]byte{1, 0})
	f.Add([]byte{0x80, 0xFF})
	f.Add(bytes.Repeat([]byte{0xFF}, 96))
	f.Add(append(bytes.Repeat([]byte{0}, 48), bytes.Repeat([]byte{0x7F}, 48)...))
	f.Add(append(append([]byte{0}, bytes.Repeat([]byte{0x01}, 47)...), append([]byte{0x80}, bytes.Repeat([]byte{0}, 47)...)...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		der, err := ECDSARawToASN1(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ECDSARawToASN1(% X) error %v does not match ErrMalformed", raw, err)
			}
			return
		}
		if len(raw) == 0 || len(raw)%2 != 0 {
			t.Fatalf("ECDSARawToASN1 accepted %d bytes", len(raw))
		}
		var sig struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(der, &sig)
		if err != nil || len(rest) != 0 {
			t.Fatalf("ECDSARawToASN1(% X) = % X, which is not one DER SEQUENCE: %v, %d bytes left", raw, der, err, len(rest))
		}
		half := len(raw) / 2
		r, s := new(big.Int).SetBytes(raw[:half]), new(big.Int).SetBytes(raw[half:])
		if sig.R.Cmp(r) != 0 || sig.S.Cmp(s) != 0 || r.Sign() <= 0 || s.Sign() <= 0 {
			t.Fatalf("ECDSARawToASN1(% X) gives r=%v s=%v, want positive r=%v s=%v", raw, sig.R, sig.S, r, s)
		}
		// DER is canonical: encoding the parsed values again is identical.
		if again, err := asn1.Marshal(sig); err != nil || !bytes.Equal(again, der) {
			t.Fatalf("DER is not canonical: % X re-encodes as % X, %v", der, again, err)
		}
	})
}

func FuzzDERLength(f *testing.F) {
	for _, s := range []string{"", "30", "3000", "3010", "307F", "3080", "3081", "3081F0", "30820400",
		"3082FFFF", "3083010000", "3184", "308200"} {
		f.Add(hexBytes(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := derLength(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("derLength(% X) error %v does not match ErrMalformed", b, err)
			}
			return
		}
		// A SEQUENCE header is 2 to 4 bytes here, and its length covers
		// at most 64 KiB: a card file cannot be larger.
		if len(b) < 2 || b[0] != 0x30 || n < 2 || n > 4+0xFFFF {
			t.Fatalf("derLength(% X) = %d", b, n)
		}
		// Cross-check with encoding/asn1 on a value of that length.
		// asn1 insists on minimal lengths, which derLength tolerates, so
		// only compare when the header is minimal.
		hdr := 2
		if b[1] >= 0x80 {
			hdr += int(b[1] & 0x7F)
		}
		body := n - hdr
		if body < 0 {
			t.Fatalf("derLength(% X) = %d is shorter than the %d-byte header", b, n, hdr)
		}
		minimal := (body < 0x80 && hdr == 2) || (body >= 0x80 && body <= 0xFF && hdr == 3) || (body > 0xFF && hdr == 4)
		if !minimal {
			return
		}
		full := append(bytes.Clone(b[:hdr]), make([]byte, body)...)
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(full, &raw); err != nil || len(rest) != 0 || len(raw.FullBytes) != n {
			t.Fatalf("derLength(% X) = %d, but encoding/asn1 reads %d bytes (%v)", b, n, len(raw.FullBytes), err)
		}
	})
}

// readCase decodes a fuzz input for the file-reading targets: the first
// byte chooses how the simulated card answers an Le larger than the rest of
// the file (6Cxx like BELPIC, or short data), the rest is the file.
func readCase(in []byte) (file []byte, shortReads bool) {
	if len(in) == 0 {
		return nil, false
	}
	return in[1:], in[0]&1 == 1
}

var fuzzFile = File{"fuzzed file", []uint16{0x3F00, 0xDF01, 0x4031}}

func FuzzReadFile(f *testing.F) {
	for _, n := range []int{0, 1, 255, 256, 257, 511, 512, 1000} {
		f.Add(append([]byte{0}, pattern(n)...))
		f.Add(append([]byte{1}, pattern(n)...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		file, short := readCase(in)
		c := &fileCard{files: map[string][]byte{"3F00DF014031": file}, shortReads: short}
		got, err := New(c, WithResendDelay(0)).ReadFile(context.Background(), fuzzFile)
		if len(file) > maxOffset {
			// Too long to address with READ BINARY offsets.
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ReadFile of %d bytes: err = %v, want ErrMalformed", len(file), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ReadFile of %d bytes (short reads %v): %v", len(file), short, err)
		}
		if !bytes.Equal(got, file) {
			t.Fatalf("ReadFile returned %d bytes, want the %d-byte file", len(got), len(file))
		}
		want := MinReadAPDUs(len(file))
		if short && len(file)%chunk != 0 {
			want--
		}
		if c.reads != want {
			t.Fatalf("ReadFile of %d bytes (short reads %v) took %d READ BINARY, want %d", len(file), short, c.reads, want)
		}
	})
}

func FuzzCertificate(f *testing.F) {
	cert := testCertificate(f, "fuzz").Raw
	for _, pad := range []int{0, 50, 1100} {
		f.Add(append([]byte{0}, append(bytes.Clone(cert), make([]byte, pad)...)...))
		f.Add(append([]byte{1}, append(bytes.Clone(cert), make([]byte, pad)...)...))
	}
	f.Add(append([]byte{0}, cert[:len(cert)/2]...))
	f.Add(append([]byte{0}, make([]byte, 300)...))
	f.Add(hexBytes("00 3082FFFF 00"))
	f.Add(hexBytes("00 3084 00000010 00"))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, in []byte) {
		file, short := readCase(in)
		c := &fileCard{files: map[string][]byte{"3F00DF014031": file}, shortReads: short}
		der, err := New(c, WithResendDelay(0)).readCertificate(context.Background(), fuzzFile)
		// Each READ BINARY returns up to 256 bytes and the certificate
		// is at most 64 KiB: the number of commands is bounded whatever
		// the file says.
		if c.reads > 2+(4+0xFFFF)/chunk {
			t.Fatalf("%d READ BINARY commands for a %d-byte file", c.reads, len(file))
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoCertificate) {
				t.Fatalf("readCertificate: error %v matches neither ErrMalformed nor ErrNoCertificate", err)
			}
			return
		}
		n, lerr := derLength(file)
		if lerr != nil || n != len(der) || !bytes.Equal(der, file[:n]) {
			t.Fatalf("readCertificate returned %d bytes; the file's DER header says %d (%v)", len(der), n, lerr)
		}
		if !short {
			if want := MinCertificateReadAPDUs(n, len(file)); c.reads != want {
				t.Fatalf("%d-byte certificate in a %d-byte file: %d READ BINARY, want %d", n, len(file), c.reads, want)
			}
		}
		// The full parse must fail cleanly too.
		if _, err := New(&fileCard{files: c.files, shortReads: short}, WithResendDelay(0)).Certificate(context.Background(), fuzzFile); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Certificate: error %v does not match ErrMalformed", err)
		}
	})
}

// errCardGone is what the hostile card returns once it has no scripted
// answers left, as a pulled card would.
var errCardGone = errors.New("fuzz: card has no more answers")

// hostileCard answers every command with the next of a list of responses
// taken from the fuzz input, whatever the command was.
type hostileCard struct {
	resps [][]byte
	cmds  int
	bad   error // the first malformed command the driver sent
}

func (h *hostileCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.cmds++
	if _, err := apdu.ParseCommand(cmd); err != nil && h.bad == nil {
		h.bad = err
	}
	if len(h.resps) == 0 {
		return nil, errCardGone
	}
	r := h.resps[0]
	h.resps = h.resps[1:]
	return r, nil
}

// splitResponses cuts in into responses, each a 1-byte length then that
// many bytes (the last one takes what is left).
func splitResponses(in []byte) [][]byte {
	var out [][]byte
	for len(in) > 0 {
		n := min(int(in[0]), len(in)-1)
		out = append(out, in[1:1+n])
		in = in[1+n:]
	}
	return out
}

// joinResponses is the inverse of splitResponses, for seeds.
func joinResponses(rs ...string) []byte {
	var out []byte
	for _, r := range rs {
		b := hexBytes(r)
		out = append(out, byte(len(b)))
		out = append(out, b...)
	}
	return out
}

func FuzzCardResponses(f *testing.F) {
	cd17 := "534C494E669600000000000000000000 00 00 00 00 00 17 0000 00 00 00 00 9000"
	cd18 := "534C494E669600000000000000000000 00 00 00 00 00 18 0000 00 00 00 00 9000"
	f.Add(joinResponses(cd17, "9000", "63C3"))
	f.Add(joinResponses(cd18, "534C494E669600000000000000000000 00 00 00 00 00 18 0000 00 00 00 00 02 0000 9000"))
	f.Add(joinResponses("9000", "6C10", "0102030405060708090A0B0C0D0E0F10 9000"))
	f.Add(joinResponses("9000", "6110", "0102 6102", "0304 9000"))
	f.Add(joinResponses("9000", "6B00"))
	f.Add(joinResponses(cd18, "9000", "9000", "6130", "00"))
	f.Add(joinResponses(cd17, "9000", "9000", "6180", "AA 9000"))
	f.Add(joinResponses("6A82", "6D00", "6E00", "6983"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		resps := splitResponses(in)
		ctx := context.Background()
		digest := crypto.SHA384.New().Sum(nil)
		// Every operation runs on a fresh driver and card, so that each
		// meets the hostile answers from its first command. Each returns
		// whether it produced a result.
		ops := []struct {
			name string
			run  func(c *Card) (bool, error)
		}{
			{"CardData", func(c *Card) (bool, error) {
				cd, err := c.CardData(ctx)
				return cd != nil, err
			}},
			{"PINTriesLeft", func(c *Card) (bool, error) {
				n, err := c.PINTriesLeft(ctx)
				if err == nil && n <= 0 {
					t.Fatalf("PINTriesLeft = %d with no error", n)
				}
				return true, err
			}},
			{"Identity", func(c *Card) (bool, error) {
				id, raw, err := c.Identity(ctx)
				return id != nil && raw != nil, err
			}},
			{"Address", func(c *Card) (bool, error) {
				a, _, err := c.Address(ctx)
				return a != nil, err
			}},
			{"Photo", func(c *Card) (bool, error) {
				_, err := c.Photo(ctx)
				return true, err
			}},
			{"Certificate", func(c *Card) (bool, error) {
				cert, err := c.Certificate(ctx, FileAuthCert)
				return cert != nil, err
			}},
			{"VerifyPIN", func(c *Card) (bool, error) {
				return true, c.VerifyPIN(ctx, []byte("1234"))
			}},
			{"Sign", func(c *Card) (bool, error) {
				sig, err := c.Sign(ctx, KeyAuthentication, crypto.SHA384, digest, nil)
				if err == nil && sig != nil {
					if len(sig.Raw) == 0 || len(sig.DER) == 0 {
						t.Fatalf("Sign succeeded with an empty signature: %+v", sig)
					}
					if sig.Algorithm == ECDSAP384 {
						if _, err := ECDSARawToASN1(sig.Raw); err != nil {
							t.Fatalf("Sign returned r||s that does not convert: %v", err)
						}
					}
				}
				return sig != nil, err
			}},
		}
		for _, op := range ops {
			h := &hostileCard{resps: append([][]byte(nil), resps...)}
			ok, err := op.run(New(h, WithResendDelay(0)))
			if h.bad != nil {
				t.Fatalf("%s sent a malformed command: %v", op.name, h.bad)
			}
			if err == nil && !ok {
				t.Fatalf("%s: no error and no result", op.name)
			}
			// Every command consumes an answer and running out ends the
			// operation, so no loop can outlast the input.
			if h.cmds > len(resps)+1 {
				t.Fatalf("%s sent %d commands for %d answers", op.name, h.cmds, len(resps))
			}
			var pe *PINError
			if errors.As(err, &pe) && (pe.TriesLeft < 0 || pe.TriesLeft > 15) {
				t.Fatalf("%s: PINError with %d tries left", op.name, pe.TriesLeft)
			}
		}
	})
}
