package beid_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

func TestSimSign(t *testing.T) {
	ctx := context.Background()
	msg := []byte("an important document")
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			c := beid.New(newSimCard(t, p))
			verify := func(ctx context.Context) error { return c.VerifyPIN(ctx, []byte("1234")) }
			certs := map[beid.Key]*x509.Certificate{}
			var err error
			if certs[beid.KeyAuthentication], err = c.Certificate(ctx, beid.FileAuthCert); err != nil {
				t.Fatal(err)
			}
			if certs[beid.KeySignature], err = c.Certificate(ctx, beid.FileSignCert); err != nil {
				t.Fatal(err)
			}
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				hh := h.New()
				hh.Write(msg)
				digest := hh.Sum(nil)
				for _, key := range []beid.Key{beid.KeyAuthentication, beid.KeySignature} {
					sig, err := c.Sign(ctx, key, h, digest, verify)
					if err != nil {
						t.Fatalf("%v key %02X: %v", h, byte(key), err)
					}
					cert := certs[key]
					var algo x509.SignatureAlgorithm
					switch pub := cert.PublicKey.(type) {
					case *rsa.PublicKey:
						if sig.Algorithm != beid.RSAPKCS1v15 {
							t.Errorf("RSA key, %v signature", sig.Algorithm)
						}
						if err := rsa.VerifyPKCS1v15(pub, h, digest, sig.DER); err != nil {
							t.Errorf("%v key %02X: %v", h, byte(key), err)
						}
						algo = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}[h]
					case *ecdsa.PublicKey:
						if sig.Algorithm != beid.ECDSAP384 || len(sig.Raw) != 96 {
							t.Errorf("EC key, %v signature of %d bytes", sig.Algorithm, len(sig.Raw))
						}
						if !ecdsa.VerifyASN1(pub, digest, sig.DER) {
							t.Errorf("%v key %02X: ECDSA signature does not verify", h, byte(key))
						}
						algo = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}[h]
					default:
						t.Fatalf("certificate key %T", pub)
					}
					if err := cert.CheckSignature(algo, msg, sig.DER); err != nil {
						t.Errorf("%v key %02X: x509: %v", h, byte(key), err)
					}
				}
			}
		})
	}
}

func TestSimSignPINRules(t *testing.T) {
	ctx := context.Background()
	digest := make([]byte, 32)
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			card := newSimCard(t, p)
			c := beid.New(card)

			// No PIN yet: neither key signs.
			for _, key := range []beid.Key{beid.KeyAuthentication, beid.KeySignature} {
				if _, err := c.Sign(ctx, key, crypto.SHA256, digest, nil); !errors.Is(err, beid.ErrPINRequired) {
					t.Errorf("key %02X without PIN: %v, want ErrPINRequired", byte(key), err)
				}
			}
			// One VERIFY opens the authentication key for the session,
			// but the non-repudiation key wants one before each use.
			if err := c.VerifyPIN(ctx, []byte("1234")); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if _, err := c.Sign(ctx, beid.KeyAuthentication, crypto.SHA256, digest, nil); err != nil {
					t.Errorf("authentication signature %d after one VERIFY: %v", i, err)
				}
			}
			if _, err := c.Sign(ctx, beid.KeySignature, crypto.SHA256, digest, nil); !errors.Is(err, beid.ErrPINRequired) {
				t.Errorf("non-repudiation without a fresh VERIFY: %v, want ErrPINRequired", err)
			}
			if n, err := c.PINTriesLeft(ctx); n != 3 || err != nil {
				t.Errorf("PINTriesLeft = %d, %v; want 3", n, err)
			}

		})
	}
}
