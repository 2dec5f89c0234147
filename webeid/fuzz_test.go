package webeid

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/ocspwire"
)

// FuzzOCSPResponse feeds the response checker arbitrary bytes where a
// responder's answer goes: it must never panic, and whatever it accepts
// must be about the certificate asked for, from its issuer.
func FuzzOCSPResponse(f *testing.F) {
	testKeys(f)
	p := newTestPKI(f, keyRootA, keyCAA)
	leaf := p.leaf(f, keyP384.Public(), leafOpts{})
	c, err := newOCSPChecker(RevocationConfig{}, func() time.Time { return testNow })
	if err != nil {
		f.Fatal(err)
	}
	nonce, _ := ocspwire.NonceExtension([]byte("0123456789abcdef0123456789abcdef"))
	id, _ := ocspwire.NewCertID(leaf, p.ca, crypto.SHA1)
	for _, st := range []int{ocspwire.Good, ocspwire.Revoked, ocspwire.Unknown} {
		der, err := ocspwire.CreateResponse(ocspwire.ResponseTemplate{CertID: id, Status: st, ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour),
			ProducedAt: testNow, RevokedAt: testNow.Add(-time.Hour), NonceExt: nonce}, p.ca, p.caKey, st == ocspwire.Good)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x03, 0x0A, 0x01, 0x03})
	f.Fuzz(func(t *testing.T, der []byte) {
		st, err := c.verify(der, leaf, p.ca, nil, nonce, "http://ocsp.test")
		if err != nil {
			var oe *OCSPError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is not an *OCSPError", err)
			}
			return
		}
		if !st.expires.After(testNow) || (st.status != ocspwire.Good && st.status != ocspwire.Revoked) {
			t.Fatalf("accepted %+v", st)
		}
		info, err := ocspwire.ParseResponseInfo(der)
		if err != nil || !slices.ContainsFunc(info.CertIDs, func(id ocspwire.CertID) bool { return id.Matches(leaf, p.ca) }) {
			t.Fatalf("accepted a response about another certificate: %+v, %v", info, err)
		}
	})
}

// FuzzValidateToken posts arbitrary bodies as login tokens: Validate must
// never panic nor accept, and every refusal falls in exactly one category.
func FuzzValidateToken(f *testing.F) {
	testKeys(f)
	p := newTestPKI(f, keyRootA, keyCAA)
	c := &clock{t: testNow}
	p.serveOCSP(f, c)
	v, err := NewValidator(Config{Origin: testOrigin, Roots: p.roots, Intermediates: p.inter, Now: c.Now})
	if err != nil {
		f.Fatal(err)
	}
	leaf := p.leaf(f, keyP384.Public(), leafOpts{})
	seed, _ := json.Marshal(makeToken(f, keyP384, leaf, "ES384", testOrigin, "seed nonce of 44 characters, never issued.."))
	f.Add(seed)
	f.Add([]byte(`{"format":"web-eid:1.1","unverifiedSigningCertificates":[{"certificate":"AAAA","supportedSignatureAlgorithms":[]}]}`))
	f.Add([]byte(`{"format":"web-eid:2"}`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseAuthToken(body)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("ParseAuthToken error %v is not ErrFormat", err)
			}
			return
		}
		nonce, err := v.NewNonce(ctx, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		// The nonce is fresh, so no token can have been signed for it.
		a, err := v.Validate(ctx, tok, "fuzz", nonce)
		if err == nil {
			t.Fatalf("accepted %+v", a)
		}
		n := 0
		for _, cat := range categories {
			if errors.Is(err, cat) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %v matches %d categories", err, n)
		}
	})
}
