package beid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func TestSignSequenceECDSA(t *testing.T) {
	digest := sha512.Sum384([]byte("hello"))
	raw := append(append([]byte{}, pattern(48)...), pattern(48)...)
	var s *script
	verifiedAt := -1
	s = newScript(t,
		step{"80E400001C", cardDataHex(Applet18) + "9000"},
		step{"00A4080C04 3F00DF00", "9000"},
		step{"0022 41B6 05 04 80 02 84 83", "9000"},
		step{"002A 9E9A 30" + bytes2hex(digest[:]), "6160"},
		step{"00C0000060", bytes2hex(raw) + "9000"},
	)
	sig, err := New(s).Sign(context.Background(), KeySignature, crypto.SHA384, digest[:], func(context.Context) error {
		verifiedAt = s.n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if verifiedAt != 3 {
		t.Errorf("verify ran after %d commands, want right after MSE (3)", verifiedAt)
	}
	if sig.Algorithm != ECDSAP384 || sig.Hash != crypto.SHA384 || bytes2hex(sig.Raw) != bytes2hex(raw) {
		t.Errorf("Sign = %+v", sig)
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig.DER, &rs); err != nil || len(rest) != 0 {
		t.Fatalf("DER: %v", err)
	}
	if rs.R.Cmp(new(big.Int).SetBytes(raw[:48])) != 0 || rs.S.Cmp(new(big.Int).SetBytes(raw[48:])) != 0 {
		t.Error("DER does not hold r and s")
	}
}

func TestSignSequenceRSA(t *testing.T) {
	digest := sha256.Sum256([]byte("hello"))
	sigBytes := pattern(256)
	s := newScript(t,
		step{"80E400001C", cardDataHex(Applet17) + "9000"},
		step{"00A4080C04 3F00DF00", "9000"},
		step{"0022 41B6 05 04 80 01 84 82", "9000"},
		step{"002A 9E9A 33 3031300D060960864801650304020105000420" + bytes2hex(digest[:]), "6100"},
		step{"00C0000000", bytes2hex(sigBytes) + "9000"},
	)
	sig, err := New(s).Sign(context.Background(), KeyAuthentication, crypto.SHA256, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if sig.Algorithm != RSAPKCS1v15 || bytes2hex(sig.Raw) != bytes2hex(sigBytes) || bytes2hex(sig.DER) != bytes2hex(sigBytes) {
		t.Errorf("Sign = %+v", sig)
	}
}

func TestSignErrors(t *testing.T) {
	ctx := context.Background()
	d32 := make([]byte, 32)
	for _, tc := range []struct {
		name   string
		key    Key
		hash   crypto.Hash
		digest []byte
		want   error
	}{
		{"short digest", KeyAuthentication, crypto.SHA256, d32[:31], ErrInvalidDigest},
		{"digest of another hash", KeyAuthentication, crypto.SHA384, d32, ErrInvalidDigest},
		{"SHA-1", KeyAuthentication, crypto.SHA1, d32[:20], ErrUnsupported},
		{"basic key", Key(0x81), crypto.SHA256, d32, ErrUnsupported},
	} {
		_, err := New(newScript(t)).Sign(ctx, tc.key, tc.hash, tc.digest, nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	s := newScript(t,
		step{"80E400001C", cardDataHex(Applet18) + "9000"},
		step{"00A4080C04 3F00DF00", "9000"},
		step{"0022 41B6 05 04 80 01 84 83", "9000"},
		step{"002A 9E9A 20" + bytes2hex(d32), "6982"},
	)
	_, err := New(s).Sign(ctx, KeySignature, crypto.SHA256, d32, nil)
	s.done()
	if !errors.Is(err, ErrPINRequired) || !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Errorf("6982: %v, want ErrPINRequired", err)
	}

	wrong := &PINError{TriesLeft: 2}
	s = newScript(t,
		step{"80E400001C", cardDataHex(Applet18) + "9000"},
		step{"00A4080C04 3F00DF00", "9000"},
		step{"0022 41B6 05 04 80 01 84 83", "9000"},
	)
	_, err = New(s).Sign(ctx, KeySignature, crypto.SHA256, d32, func(context.Context) error { return wrong })
	s.done()
	if !errors.Is(err, ErrWrongPIN) {
		t.Errorf("failed verify: %v, want the verify error", err)
	}

	s = newScript(t,
		step{"80E400001C", cardDataHex(Applet18) + "9000"},
		step{"00A4080C04 3F00DF00", "9000"},
		step{"0022 41B6 05 04 80 04 84 82", "6A80"},
	)
	_, err = New(s).Sign(ctx, KeyAuthentication, crypto.SHA512, make([]byte, 64), nil)
	s.done()
	if !errors.Is(err, apdu.ErrIncorrectData) {
		t.Errorf("MSE refused: %v", err)
	}
}

// signCard is a card that really signs, with the key references' PIN rules
// reduced to "the non-repudiation key wants a VERIFY right before".
type signCard struct {
	applet   byte
	ec       *ecdsa.PrivateKey
	rsa      *rsa.PrivateKey
	alg, key byte
	verified bool
	pending  []byte
}

func (c *signCard) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return []byte{0x67, 0x00}, nil
	}
	prevVerified := c.verified
	c.verified = false
	switch cmd.INS {
	case 0xE4:
		return append(hexBytes(cardDataHex(c.applet)), 0x90, 0x00), nil
	case apdu.InsSelect:
		if bytes2hex(cmd.Data) != "3F00DF00" {
			return []byte{0x6A, 0x82}, nil
		}
		return []byte{0x90, 0x00}, nil
	case apdu.InsMSE:
		c.alg, c.key = cmd.Data[2], cmd.Data[4]
		return []byte{0x90, 0x00}, nil
	case apdu.InsVerify:
		c.verified = true
		return []byte{0x90, 0x00}, nil
	case apdu.InsPSO:
		if c.key == 0x83 && !prevVerified {
			return []byte{0x69, 0x82}, nil
		}
		if c.ec != nil {
			want := map[byte]int{0x01: 32, 0x02: 48, 0x04: 64}[c.alg]
			if len(cmd.Data) != want {
				return []byte{0x6A, 0x80}, nil
			}
			r, s, err := ecdsa.Sign(rand.Reader, c.ec, cmd.Data)
			if err != nil {
				return nil, err
			}
			c.pending = append(r.FillBytes(make([]byte, 48)), s.FillBytes(make([]byte, 48))...)
		} else {
			if c.alg != 0x01 {
				return []byte{0x6A, 0x80}, nil
			}
			// Hash 0: the data is taken as a ready DigestInfo.
			sig, err := rsa.SignPKCS1v15(nil, c.rsa, 0, cmd.Data)
			if err != nil {
				return []byte{0x6A, 0x80}, nil
			}
			c.pending = sig
		}
		return []byte{0x61, byte(len(c.pending))}, nil
	case apdu.InsGetResponse:
		out := append(c.pending, 0x90, 0x00)
		c.pending = nil
		return out, nil
	}
	return []byte{0x6D, 0x00}, nil
}

func TestSignVerifies(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, card := range []*signCard{{applet: Applet18, ec: ec}, {applet: Applet17, rsa: rk}} {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			hh := h.New()
			hh.Write([]byte("message"))
			digest := hh.Sum(nil)
			for _, key := range []Key{KeyAuthentication, KeySignature} {
				c := New(card)
				_, err := c.Sign(ctx, key, h, digest, nil)
				if key == KeySignature && !errors.Is(err, ErrPINRequired) {
					t.Errorf("applet %02X %v: no PIN: %v, want ErrPINRequired", card.applet, h, err)
				}
				sig, err := c.Sign(ctx, key, h, digest, func(ctx context.Context) error { return c.VerifyPIN(ctx, []byte("1234")) })
				if err != nil {
					t.Errorf("applet %02X %v key %02X: %v", card.applet, h, byte(key), err)
					continue
				}
				if card.ec != nil {
					if !ecdsa.VerifyASN1(&ec.PublicKey, digest, sig.DER) {
						t.Errorf("%v: ECDSA signature does not verify", h)
					}
				} else if err := rsa.VerifyPKCS1v15(&rk.PublicKey, h, digest, sig.DER); err != nil {
					t.Errorf("%v: RSA signature does not verify: %v", h, err)
				}
			}
		}
	}
}

func TestECDSARawToASN1(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string // DER, or "" for an error
	}{
		{"0102", "3006020101020102"},
		{"00010002", "3006020101020102"},  // leading zeros dropped
		{"80FF", "30080202008002020 0FF"}, // high bit needs a zero byte
		{"0000 0001", ""},                 // r = 0
		{"010203", ""},                    // odd length
		{"", ""},                          // empty
	} {
		der, err := ECDSARawToASN1(hexBytes(tc.raw))
		if tc.want == "" {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ECDSARawToASN1(%s) = %X, %v; want ErrMalformed", tc.raw, der, err)
			}
			continue
		}
		if want := strings.ReplaceAll(tc.want, " ", ""); err != nil || bytes2hex(der) != want {
			t.Errorf("ECDSARawToASN1(%s) = %X, %v; want %s", tc.raw, der, err, want)
		}
	}
}

// TestSignSelectFallback is D6: a card that refuses DF00 by path gets the
// MF and DF00 selected by file ID, as eid-mw does; other refusals end the
// signature.
func TestSignSelectFallback(t *testing.T) {
	digest := sha512.Sum384([]byte("hello"))
	raw := append(pattern(48), pattern(48)...)
	for _, sw := range []string{"6A82", "6A86"} {
		t.Run(sw, func(t *testing.T) {
			s := newScript(t,
				step{"80E400001C", cardDataHex(Applet18) + "9000"},
				step{"00A4080C04 3F00DF00", sw},
				step{"00A4020C02 3F00", "9000"},
				step{"00A4020C02 DF00", "9000"},
				step{"0022 41B6 05 04 80 02 84 82", "9000"},
				step{"002A 9E9A 30" + bytes2hex(digest[:]), "6160"},
				step{"00C0000060", bytes2hex(raw) + "9000"},
			)
			if _, err := New(s).Sign(context.Background(), KeyAuthentication, crypto.SHA384, digest[:], nil); err != nil {
				t.Fatal(err)
			}
			s.done()
		})
	}
	t.Run("fallback refused too", func(t *testing.T) {
		s := newScript(t,
			step{"80E400001C", cardDataHex(Applet18) + "9000"},
			step{"00A4080C04 3F00DF00", "6A82"},
			step{"00A4020C02 3F00", "9000"},
			step{"00A4020C02 DF00", "6A82"},
		)
		_, err := New(s).Sign(context.Background(), KeyAuthentication, crypto.SHA384, digest[:], nil)
		if !errors.Is(err, apdu.ErrFileNotFound) {
			t.Fatalf("Sign = %v, want file not found", err)
		}
		s.done()
	})
	t.Run("other status, no fallback", func(t *testing.T) {
		s := newScript(t,
			step{"80E400001C", cardDataHex(Applet18) + "9000"},
			step{"00A4080C04 3F00DF00", "6985"},
		)
		_, err := New(s).Sign(context.Background(), KeyAuthentication, crypto.SHA384, digest[:], nil)
		if !errors.Is(err, apdu.ErrConditionsNotMet) {
			t.Fatalf("Sign = %v, want conditions not satisfied", err)
		}
		s.done()
	})
}

// TestSignLaterApplet is D3 for signing: an applet after 1.8 signs on the
// ECC path with 1.8's algorithm references.
func TestSignLaterApplet(t *testing.T) {
	digest := sha512.Sum384([]byte("hello"))
	raw := append(pattern(48), pattern(48)...)
	for _, v := range []byte{0x19, 0x20} {
		s := newScript(t,
			step{"80E400001C", cardDataHex(v) + "9000"},
			step{"00A4080C04 3F00DF00", "9000"},
			step{"0022 41B6 05 04 80 02 84 82", "9000"},
			step{"002A 9E9A 30" + bytes2hex(digest[:]), "6160"},
			step{"00C0000060", bytes2hex(raw) + "9000"},
		)
		sig, err := New(s).Sign(context.Background(), KeyAuthentication, crypto.SHA384, digest[:], nil)
		if err != nil {
			t.Fatalf("applet %02X: %v", v, err)
		}
		s.done()
		if sig.Algorithm != ECDSAP384 {
			t.Errorf("applet %02X: %v", v, sig.Algorithm)
		}
	}
}
