package ocspwire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func selfSigned(t *testing.T, key crypto.Signer, name string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInterop: what this package writes, golang.org/x/crypto/ocsp reads
// (requests with a nonce, responses with responseExtensions and every
// status), and what this package reads back matches what was written.
func TestInterop(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, key := range []crypto.Signer{ecKey, rsaKey} {
		ca := selfSigned(t, key, "CA")
		leaf := &x509.Certificate{SerialNumber: big.NewInt(4242)}
		id, err := NewCertID(leaf, ca, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		nonce, _ := NonceExtension(bytes.Repeat([]byte{0xA5}, 32))
		req, err := MarshalRequest(id, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := ocsp.ParseRequest(req); err != nil || r.SerialNumber.Cmp(leaf.SerialNumber) != 0 || r.HashAlgorithm != crypto.SHA256 {
			t.Fatalf("x/crypto/ocsp reads the request as %+v, %v", r, err)
		}
		parsed, err := ParseRequest(req)
		if err != nil || !bytes.Equal(parsed.NonceExt, nonce) || !parsed.CertIDs[0].Matches(leaf, ca) {
			t.Fatalf("ParseRequest = %+v, %v", parsed, err)
		}

		now := time.Now().Truncate(time.Second)
		for _, status := range []int{Good, Revoked, Unknown} {
			der, err := CreateResponse(ResponseTemplate{CertID: id, Status: status, RevokedAt: now.Add(-time.Hour), Reason: ocsp.KeyCompromise,
				ThisUpdate: now, NextUpdate: now.Add(time.Hour), ProducedAt: now, NonceExt: nonce}, ca, key, false)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ocsp.ParseResponseForCert(der, leaf, ca)
			if err != nil {
				t.Fatalf("status %d: x/crypto/ocsp: %v", status, err)
			}
			if r.Status != status || !r.ThisUpdate.Equal(now) || !r.NextUpdate.Equal(now.Add(time.Hour)) {
				t.Errorf("status %d read as %d, %v..%v", status, r.Status, r.ThisUpdate, r.NextUpdate)
			}
			if status == Revoked && (!r.RevokedAt.Equal(now.Add(-time.Hour)) || r.RevocationReason != ocsp.KeyCompromise) {
				t.Errorf("revocation read as %v, reason %d", r.RevokedAt, r.RevocationReason)
			}
			info, err := ParseResponseInfo(der)
			if err != nil || !bytes.Equal(info.NonceExt, nonce) || len(info.CertIDs) != 1 || !info.CertIDs[0].Matches(leaf, ca) {
				t.Errorf("ParseResponseInfo = %+v, %v", info, err)
			}
		}
	}
}

func TestNonceExtensionBounds(t *testing.T) {
	for _, n := range []int{0, 33} {
		if _, err := NonceExtension(make([]byte, n)); err == nil {
			t.Errorf("%d-byte nonce accepted", n)
		}
	}
	if _, err := ParseRequest([]byte{0x30, 0x00}); err == nil {
		t.Error("empty request accepted")
	}
	if _, err := ParseResponseInfo(ocsp.TryLaterErrorResponse); err == nil {
		t.Error("an error response read as a basic response")
	}
}
