package webeid

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// TestTokenFormats: web-eid:1 and every 1.x minor are accepted, and the
// signing certificate comes exactly with 1.1 (and may come with later
// minors); anything else is a typed error.
func TestTokenFormats(t *testing.T) {
	testKeys(t)
	cases := []struct {
		format  string
		signing bool // add the signing certificate
		want    error
	}{
		{"web-eid:1", false, nil},
		{"web-eid:1.0", false, nil},
		{"web-eid:1.1", true, nil},
		{"web-eid:1.2", false, nil},
		{"web-eid:1.2", true, nil},
		{"web-eid:1.10", true, nil},
		{"web-eid:1.1", false, ErrFormat},
		{"web-eid:1.0", true, ErrFormat},
		{"web-eid:1", true, ErrFormat},
		{"web-eid:2", false, ErrTokenVersion},
		{"web-eid:2.0", false, ErrTokenVersion},
		{"web-eid:10", false, ErrTokenVersion},
		{"web-eid:1.", false, ErrTokenVersion},
		{"web-eid:1.01", false, ErrTokenVersion},
		{"web-eid:1.x", false, ErrTokenVersion},
		{"web-eid:1.-1", false, ErrTokenVersion},
		{"web-eid:1.1 ", true, ErrTokenVersion},
		{"web-eid:1.99999", false, ErrTokenVersion},
		{"WEB-EID:1", false, ErrTokenVersion},
		{"webauthn:1", false, ErrTokenVersion},
		{"", false, ErrTokenVersion},
		{"\x00garbage", false, ErrTokenVersion},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			e := newEnv(t)
			tok := makeToken(t, keyP384, e.auth, "ES384", testOrigin, e.nonce)
			tok.Format = tc.format
			var sign *x509.Certificate
			if tc.signing {
				sign = e.signCert(leafOpts{})
				tok.UnverifiedSigningCertificates = []SigningCertificate{signingEntry(sign, eccAlgorithms...)}
			}
			a, err := e.v.Validate(context.Background(), tok, testSession, e.nonce)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if a.Format != tc.format || (sign != nil) != (len(a.SigningCertificates) == 1) {
					t.Fatalf("result %+v", a)
				}
				if sign != nil && (!a.SigningCertificates[0].Certificate.Equal(sign) || len(a.SigningCertificates[0].SupportedSignatureAlgorithms) != len(eccAlgorithms)) {
					t.Errorf("signing certificate %+v", a.SigningCertificates[0])
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrFormat) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
		})
	}
}

var eccAlgorithms = []SignatureAlgorithm{
	{"ECC", "SHA-256", "NONE"}, {"ECC", "SHA-384", "NONE"}, {"ECC", "SHA-512", "NONE"},
}

func signingEntry(cert *x509.Certificate, algs ...SignatureAlgorithm) SigningCertificate {
	return SigningCertificate{Certificate: base64.StdEncoding.EncodeToString(cert.Raw), SupportedSignatureAlgorithms: algs}
}

// signCert issues a signing certificate for the env's holder.
func (e *env) signCert(o leafOpts) *x509.Certificate {
	if o.keyUsage == 0 {
		o.keyUsage = x509.KeyUsageContentCommitment
	}
	if o.extUsage == nil {
		o.noEKU = true
	}
	return e.pki.leaf(e.t, keyP384.Public(), o)
}

// TestSigningCertificateChecks: a 1.1 token's signing certificate must be
// the same holder's, from the same issuer, fit for signing, under a
// signing policy, not revoked, and come with algorithms its key can do.
func TestSigningCertificateChecks(t *testing.T) {
	testKeys(t)
	otherHolder := specimenSubject("Signature")
	otherHolder.SerialNumber = "85073100130"
	cases := []struct {
		name  string
		entry func(e *env) []SigningCertificate
		want  error
	}{
		{name: "valid", entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{}), eccAlgorithms...)}
		}},
		{name: "identical subjects (as on other eID cards)", entry: func(e *env) []SigningCertificate {
			s := specimenSubject("Authentication")
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{subject: &s}), eccAlgorithms...)}
		}},
		{name: "another holder", want: ErrCertificate, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{subject: &otherHolder}), eccAlgorithms...)}
		}},
		{name: "roles swapped in the names", want: ErrCertificate, entry: func(e *env) []SigningCertificate {
			s := specimenSubject("Authentication")
			s.CommonName = "Alice Specimen (Signature) (Authentication)"
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{subject: &s}), eccAlgorithms...)}
		}},
		{name: "another issuer", want: ErrCertificate, entry: func(e *env) []SigningCertificate {
			// Same root, a second CA with the same name, known to the
			// validator: the chain verifies, the issuer is another.
			other := newTestPKI(e.t, keyRootA, keyP256)
			e.pki.inter.AddCert(other.ca)
			return []SigningCertificate{signingEntry(other.leaf(e.t, keyP384.Public(), leafOpts{keyUsage: x509.KeyUsageContentCommitment, noEKU: true}), eccAlgorithms...)}
		}},
		{name: "authentication certificate as signing certificate", want: ErrCertificate, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.auth, eccAlgorithms...)}
		}},
		{name: "authentication policy on the signing certificate", want: ErrPolicy, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{policies: []x509.OID{policyAuth}}), eccAlgorithms...)}
		}},
		{name: "revoked signing certificate", want: ErrRevoked, entry: func(e *env) []SigningCertificate {
			c := e.signCert(leafOpts{})
			e.ocsp.Revoke(c)
			return []SigningCertificate{signingEntry(c, eccAlgorithms...)}
		}},
		{name: "expired signing certificate", want: ErrCertificate, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{notBefore: testNow.AddDate(-5, 0, 0), notAfter: testNow.Add(-time.Hour)}), eccAlgorithms...)}
		}},
		{name: "RSA algorithm for an EC key", want: ErrAlgorithm, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{}), SignatureAlgorithm{"RSA", "SHA-256", "PKCS1.5"})}
		}},
		{name: "unknown hash", want: ErrAlgorithm, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{}), SignatureAlgorithm{"ECC", "MD5", "NONE"})}
		}},
		{name: "padding for EC", want: ErrAlgorithm, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{}), SignatureAlgorithm{"ECC", "SHA-256", "PSS"})}
		}},
		{name: "no algorithms", want: ErrFormat, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{signingEntry(e.signCert(leafOpts{}))}
		}},
		{name: "not base64", want: ErrFormat, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{{Certificate: "MII***", SupportedSignatureAlgorithms: eccAlgorithms}}
		}},
		{name: "not a certificate", want: ErrCertificate, entry: func(e *env) []SigningCertificate {
			return []SigningCertificate{{Certificate: "AAAA", SupportedSignatureAlgorithms: eccAlgorithms}}
		}},
		{name: "too many", want: ErrFormat, entry: func(e *env) []SigningCertificate {
			entry := signingEntry(e.signCert(leafOpts{}), eccAlgorithms...)
			return []SigningCertificate{entry, entry, entry, entry, entry}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tok := makeToken(t, keyP384, e.auth, "ES384", testOrigin, e.nonce)
			tok.Format = FormatV1_1
			tok.UnverifiedSigningCertificates = tc.entry(e)
			a, err := e.v.Validate(context.Background(), tok, testSession, e.nonce)
			if tc.want == nil {
				if err != nil || len(a.SigningCertificates) != 1 {
					t.Fatalf("Validate = %+v, %v", a, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRevokedSimCard runs the simulator's card and its OCSP responder (on
// loopback, named in the card's certificates as the Belgian responder is):
// the card logs in and signs while good, and is refused at login and at
// signature verification once revoked.
func TestRevokedSimCard(t *testing.T) {
	pki, err := sim.NewPKI(sim.ProfileECC)
	if err != nil {
		t.Fatal(err)
	}
	responder, err := pki.DelegatedOCSPResponder()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(responder)
	t.Cleanup(srv.Close)
	pki.OCSPURL = srv.URL + "/ocsp"
	card, err := sim.New(sim.Options{PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	// CacheSize < 0: every check asks the responder, so a revocation
	// shows at once.
	v, err := NewValidator(Config{
		Origin: testOrigin, Roots: pki.Roots(), Intermediates: pki.Intermediates(),
		Policies:   Policies{Authentication: []x509.OID{sim.AuthenticationPolicy()}, Signing: []x509.OID{sim.SignaturePolicy()}},
		Revocation: RevocationConfig{CacheSize: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	login := func() error {
		nonce, err := v.NewNonce(ctx, testSession)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Validate(ctx, makeToken(t, pki.AuthKey, card.AuthCert(), "ES384", testOrigin, nonce), testSession, nonce)
		return err
	}
	// signRaw hashes with SHA-384 for ES384, as the daemon's sign does
	// with the digest the portal sent.
	sig := signRaw(t, pki.SignKey, "ES384", []byte("application"))
	d := crypto.SHA384.New()
	d.Write([]byte("application"))
	digest := d.Sum(nil)
	signature := func() error { return v.VerifyDocumentSignature(ctx, card.SignCert(), crypto.SHA384, digest, sig) }

	if err := login(); err != nil {
		t.Fatalf("login with a good card: %v", err)
	}
	if err := signature(); err != nil {
		t.Fatalf("signature of a good card: %v", err)
	}
	responder.Revoke(card.AuthCert(), card.SignCert())
	if err := login(); !errors.Is(err, ErrRevoked) {
		t.Errorf("login with a revoked card: %v, want ErrRevoked", err)
	}
	if err := signature(); !errors.Is(err, ErrRevoked) {
		t.Errorf("signature of a revoked card: %v, want ErrRevoked", err)
	}
	if n := responder.Requests(); n != 4 {
		t.Errorf("the responder was asked %d times, want 4", n)
	}
}
