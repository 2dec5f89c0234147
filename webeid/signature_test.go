package webeid

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"testing"
)

func TestVerifySignature(t *testing.T) {
	testKeys(t)
	pki := newTestPKI(t, keyRootA, keyCAA)
	ecCert := pki.leaf(t, keyP384.Public(), leafOpts{keyUsage: x509.KeyUsageContentCommitment, noEKU: true})
	rsaCert := pki.leaf(t, keyRSA.Public(), leafOpts{keyUsage: x509.KeyUsageContentCommitment, noEKU: true})
	doc := []byte(`{"email":"alice@example.org","givenName":"Alice"}`)
	digest := func(h crypto.Hash) []byte { d := h.New(); d.Write(doc); return d.Sum(nil) }
	// signRaw hashes its input itself, so sign the document, not the digest.
	ecSig384 := signRaw(t, keyP384, "ES384", doc)
	ecSig256 := signRaw(t, keyP384, "ES256", doc) // P-384 key over a SHA-256 digest: fine for sign
	rsaSig256 := signRaw(t, keyRSA, "RS256", doc)
	rsaSig512 := signRaw(t, keyRSA, "RS512", doc)
	flip := func(b []byte) []byte { c := append([]byte(nil), b...); c[len(c)-1] ^= 1; return c }

	cases := []struct {
		name   string
		cert   *x509.Certificate
		hash   crypto.Hash
		digest []byte
		sig    []byte
		want   error
	}{
		{"ECDSA P-384 SHA-384", ecCert, crypto.SHA384, digest(crypto.SHA384), ecSig384, nil},
		{"ECDSA P-384 SHA-256", ecCert, crypto.SHA256, digest(crypto.SHA256), ecSig256, nil},
		{"RSA SHA-256", rsaCert, crypto.SHA256, digest(crypto.SHA256), rsaSig256, nil},
		{"RSA SHA-512", rsaCert, crypto.SHA512, digest(crypto.SHA512), rsaSig512, nil},
		{"ECDSA tampered", ecCert, crypto.SHA384, digest(crypto.SHA384), flip(ecSig384), ErrSignature},
		{"ECDSA DER", ecCert, crypto.SHA384, digest(crypto.SHA384), toDER(t, ecSig384), ErrSignature},
		{"ECDSA other digest", ecCert, crypto.SHA384, digest(crypto.SHA384), signRaw(t, keyP384, "ES384", []byte("other")), ErrSignature},
		{"RSA tampered", rsaCert, crypto.SHA256, digest(crypto.SHA256), flip(rsaSig256), ErrSignature},
		{"RSA wrong hash claimed", rsaCert, crypto.SHA512, digest(crypto.SHA512), rsaSig256, ErrSignature},
		{"RSA empty signature", rsaCert, crypto.SHA256, digest(crypto.SHA256), nil, ErrSignature},
		{"digest length mismatch", ecCert, crypto.SHA384, digest(crypto.SHA256), ecSig256, ErrFormat},
		{"SHA-1 refused", rsaCert, crypto.SHA1, make([]byte, 20), rsaSig256, ErrAlgorithm},
		{"no certificate", nil, crypto.SHA256, digest(crypto.SHA256), rsaSig256, ErrCertificate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(tc.cert, tc.hash, tc.digest, tc.sig)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifySignature: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifySignature error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyCertificatePurpose(t *testing.T) {
	e := newEnv(t)
	signing := e.pki.leaf(t, keyP384.Public(), leafOpts{keyUsage: x509.KeyUsageContentCommitment, extUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	if err := e.v.VerifyCertificate(context.Background(), signing, PurposeSigning); err != nil {
		t.Errorf("signing cert for signing: %v", err)
	}
	if err := e.v.VerifyCertificate(context.Background(), signing, PurposeAuthentication); !errors.Is(err, ErrCertificate) {
		t.Errorf("signing cert for authentication: %v", err)
	}
	if err := e.v.VerifyCertificate(context.Background(), e.auth, PurposeAuthentication); err != nil {
		t.Errorf("auth cert for authentication: %v", err)
	}
	if err := e.v.VerifyCertificate(context.Background(), e.auth, PurposeSigning); !errors.Is(err, ErrCertificate) {
		t.Errorf("auth cert for signing: %v", err)
	}
	if err := e.v.VerifyCertificate(context.Background(), nil, PurposeSigning); !errors.Is(err, ErrCertificate) {
		t.Errorf("nil cert: %v", err)
	}
	if err := e.v.VerifyCertificate(context.Background(), e.auth, Purpose(99)); !errors.Is(err, ErrCertificate) {
		t.Errorf("bad purpose: %v", err)
	}
	other := newTestPKI(t, keyRootB, keyP256)
	foreign := other.leaf(t, keyP384.Public(), leafOpts{keyUsage: x509.KeyUsageContentCommitment})
	var ua x509.UnknownAuthorityError
	if err := e.v.VerifyCertificate(context.Background(), foreign, PurposeSigning); !errors.As(err, &ua) {
		t.Errorf("foreign cert: %v", err)
	}
}

func TestSubjectIdentity(t *testing.T) {
	e := newEnv(t)
	g, s, sn := SubjectIdentity(e.auth)
	if g != "Alice Geldig" || s != "Specimen" || sn != "85073100123" {
		t.Errorf("SubjectIdentity = %q %q %q", g, s, sn)
	}
	if g, s, sn := SubjectIdentity(nil); g+s+sn != "" {
		t.Errorf("nil cert gave %q %q %q", g, s, sn)
	}
	if g, s, sn := SubjectIdentity(e.pki.root); g != "" || s != "" || sn != "" {
		t.Errorf("root gave %q %q %q", g, s, sn)
	}
}

func TestSignedValue(t *testing.T) {
	// Known answer, hashes computed independently with sha256sum.
	got := SignedValue(crypto.SHA256, "https://ria.ee", "12345678901234567890123456789012345678901234")
	want := "3a0de594ddc5e6d2db6ac36788ccd4102b7eb272e4d610ea8956317ccf616f92" +
		"96d58110d3c31077970ae1197cf51a3b5152dbb2417c79de9a59bf2f62b6d43c"
	if hex.EncodeToString(got) != want {
		t.Fatalf("SignedValue = %x", got)
	}
	if n := len(SignedValue(crypto.SHA384, "o", "n")); n != 96 {
		t.Errorf("SHA-384 signed value is %d bytes", n)
	}
}
