package webeid

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// env is one validator with its clock and PKI, fresh for each case.
type env struct {
	t     *testing.T
	pki   *testPKI
	clock *clock
	v     *Validator
	nonce string // issued by v
	auth  *x509.Certificate
	rsa   *x509.Certificate
	ocsp  *sim.OCSPResponder // answers for pki's CA; the leaves name it
}

// testSession is the portal session the env's nonces are issued to.
const testSession = "session-of-alice"

func newEnv(t *testing.T) *env {
	t.Helper()
	testKeys(t)
	pki := newTestPKI(t, keyRootA, keyCAA)
	c := &clock{t: testNow}
	ocsp := pki.serveOCSP(t, c)
	v, err := NewValidator(Config{Origin: testOrigin, Roots: pki.roots, Intermediates: pki.inter, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := v.NewNonce(context.Background(), testSession)
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		t: t, pki: pki, clock: c, v: v, nonce: nonce, ocsp: ocsp,
		auth: pki.leaf(t, keyP384.Public(), leafOpts{}),
		rsa:  pki.leaf(t, keyRSA.Public(), leafOpts{}),
	}
}

func TestValidate(t *testing.T) {
	type build func(e *env) (*AuthToken, string)
	valid := func(key crypto.Signer, alg string) build {
		return func(e *env) (*AuthToken, string) {
			cert := e.auth
			if _, ok := key.(interface{ Size() int }); ok { // RSA
				cert = e.rsa
			}
			return makeToken(e.t, key, cert, alg, testOrigin, e.nonce), e.nonce
		}
	}
	testKeys(t)
	cases := []struct {
		name   string
		build  build
		want   error // nil for success
		wantAs any   // optional: target type for errors.As
	}{
		{name: "valid ES384", build: valid(keyP384, "ES384")},
		{name: "valid RS256", build: valid(keyRSA, "RS256")},
		{name: "valid RS512", build: valid(keyRSA, "RS512")},
		{name: "valid PS256", build: valid(keyRSA, "PS256")},
		{name: "valid ES256 on P-256", build: func(e *env) (*AuthToken, string) {
			cert := e.pki.leaf(e.t, keyP256.Public(), leafOpts{})
			return makeToken(e.t, keyP256, cert, "ES256", testOrigin, e.nonce), e.nonce
		}},
		{name: "format web-eid:1.0", build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Format = "web-eid:1.0"
			return tok, n
		}},
		{name: "later minor format version", build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Format = "web-eid:1.7"
			return tok, n
		}},
		{name: "leaf without EKU", build: func(e *env) (*AuthToken, string) {
			cert := e.pki.leaf(e.t, keyP384.Public(), leafOpts{noEKU: true})
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "wrong origin", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			return makeToken(e.t, keyP384, e.auth, "ES384", "https://portal.example.evil.test", e.nonce), e.nonce
		}},
		{name: "origin with path", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			return makeToken(e.t, keyP384, e.auth, "ES384", testOrigin+"/", e.nonce), e.nonce
		}},
		{name: "wrong nonce signed", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			other, _ := e.v.NewNonce(context.Background(), testSession)
			return makeToken(e.t, keyP384, e.auth, "ES384", testOrigin, other), e.nonce
		}},
		{name: "unknown nonce", want: ErrNonceUnknown, build: func(e *env) (*AuthToken, string) {
			n := strings.Repeat("A", 43) + "="
			return makeToken(e.t, keyP384, e.auth, "ES384", testOrigin, n), n
		}},
		{name: "empty nonce", want: ErrNonceUnknown, build: func(e *env) (*AuthToken, string) {
			return makeToken(e.t, keyP384, e.auth, "ES384", testOrigin, ""), ""
		}},
		{name: "replayed nonce", want: ErrNonceReplayed, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			if _, err := e.v.Validate(context.Background(), tok, testSession, n); err != nil {
				e.t.Fatalf("first use: %v", err)
			}
			return tok, n
		}},
		{name: "nonce consumed by a failed attempt", want: ErrNonceReplayed, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			bad := *tok
			bad.Signature = "!!"
			if _, err := e.v.Validate(context.Background(), &bad, testSession, n); !errors.Is(err, ErrFormat) {
				e.t.Fatalf("garbage attempt: %v", err)
			}
			return tok, n
		}},
		{name: "expired nonce", want: ErrNonceExpired, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			e.clock.Advance(DefaultNonceTTL)
			return tok, n
		}},
		{name: "nonce just before expiry", build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			e.clock.Advance(DefaultNonceTTL - time.Second)
			return tok, n
		}},
		{name: "tampered signature", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			sig, _ := base64.StdEncoding.DecodeString(tok.Signature)
			sig[len(sig)/3] ^= 0x01
			tok.Signature = base64.StdEncoding.EncodeToString(sig)
			return tok, n
		}},
		{name: "tampered RSA signature", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyRSA, "RS256")(e)
			sig, _ := base64.StdEncoding.DecodeString(tok.Signature)
			sig[10] ^= 0x80
			tok.Signature = base64.StdEncoding.EncodeToString(sig)
			return tok, n
		}},
		{name: "certificate swapped", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			other, _ := newKeyCert(e, keyCAA)
			tok.UnverifiedCertificate = base64.StdEncoding.EncodeToString(other.Raw)
			return tok, n
		}},
		{name: "RS256 claimed for EC key", want: ErrAlgorithm, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Algorithm = "RS256"
			return tok, n
		}},
		{name: "ES384 claimed for RSA key", want: ErrAlgorithm, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyRSA, "RS256")(e)
			tok.Algorithm = "ES384"
			return tok, n
		}},
		{name: "ES256 claimed for P-384 key", want: ErrAlgorithm, build: func(e *env) (*AuthToken, string) {
			return makeToken(e.t, keyP384, e.auth, "ES256", testOrigin, e.nonce), e.nonce
		}},
		{name: "PS256 claimed for PKCS1 signature", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyRSA, "RS256")(e)
			tok.Algorithm = "PS256"
			return tok, n
		}},
		{name: "HS256", want: ErrAlgorithm, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Algorithm = "HS256"
			return tok, n
		}},
		{name: "alg none", want: ErrAlgorithm, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Algorithm = "none"
			return tok, n
		}},
		{name: "lower-case algorithm", want: ErrAlgorithm, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Algorithm = "es384"
			return tok, n
		}},
		{name: "missing algorithm", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Algorithm = ""
			return tok, n
		}},
		{name: "untrusted root", want: ErrCertificate, wantAs: &x509.UnknownAuthorityError{}, build: func(e *env) (*AuthToken, string) {
			other := newTestPKI(e.t, keyRootB, keyP256) // same names, other keys
			cert := other.leaf(e.t, keyP384.Public(), leafOpts{})
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "self-signed leaf", want: ErrCertificate, build: func(e *env) (*AuthToken, string) {
			tmpl := *e.auth
			cert := createCert(e.t, &tmpl, &tmpl, keyP384.Public(), keyP384)
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "expired certificate", want: ErrCertificate, wantAs: &x509.CertificateInvalidError{}, build: func(e *env) (*AuthToken, string) {
			cert := e.pki.leaf(e.t, keyP384.Public(), leafOpts{notBefore: testNow.AddDate(-5, 0, 0), notAfter: testNow.Add(-time.Hour)})
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "certificate not yet valid", want: ErrCertificate, build: func(e *env) (*AuthToken, string) {
			cert := e.pki.leaf(e.t, keyP384.Public(), leafOpts{notBefore: testNow.Add(time.Hour)})
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "server-auth only EKU", want: ErrCertificate, wantAs: &x509.CertificateInvalidError{}, build: func(e *env) (*AuthToken, string) {
			cert := e.pki.leaf(e.t, keyP384.Public(), leafOpts{extUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "signing certificate used to authenticate", want: ErrCertificate, build: func(e *env) (*AuthToken, string) {
			cert := e.pki.leaf(e.t, keyP384.Public(), leafOpts{keyUsage: x509.KeyUsageContentCommitment, noEKU: true})
			return makeToken(e.t, keyP384, cert, "ES384", testOrigin, e.nonce), e.nonce
		}},
		{name: "garbage base64 certificate", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.UnverifiedCertificate = "MIIB$$$not*base64"
			return tok, n
		}},
		{name: "URL-safe base64 signature", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			sig, _ := base64.StdEncoding.DecodeString(tok.Signature)
			sig[0], sig[1], sig[2] = 0xfb, 0xff, 0xff // forces '-' / '_' in URL encoding
			tok.Signature = base64.URLEncoding.EncodeToString(sig)
			return tok, n
		}},
		{name: "garbage DER certificate", want: ErrCertificate, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.UnverifiedCertificate = base64.StdEncoding.EncodeToString([]byte("not a certificate"))
			return tok, n
		}},
		{name: "missing certificate", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.UnverifiedCertificate = ""
			return tok, n
		}},
		{name: "missing signature", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Signature = ""
			return tok, n
		}},
		{name: "DER instead of r||s", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			raw, _ := base64.StdEncoding.DecodeString(tok.Signature)
			tok.Signature = base64.StdEncoding.EncodeToString(toDER(e.t, raw))
			return tok, n
		}},
		{name: "r||s truncated", want: ErrSignature, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			raw, _ := base64.StdEncoding.DecodeString(tok.Signature)
			tok.Signature = base64.StdEncoding.EncodeToString(raw[:len(raw)-1])
			return tok, n
		}},
		{name: "format web-eid:2", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Format = "web-eid:2"
			return tok, n
		}},
		{name: "format web-eid:10", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Format = "web-eid:10"
			return tok, n
		}},
		{name: "missing format", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			tok, n := valid(keyP384, "ES384")(e)
			tok.Format = ""
			return tok, n
		}},
		{name: "nil token", want: ErrFormat, build: func(e *env) (*AuthToken, string) {
			return nil, e.nonce
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tok, nonce := tc.build(e)
			a, err := e.v.Validate(context.Background(), tok, testSession, nonce)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				given, sur, sn := SubjectIdentity(a.Certificate)
				if given != "Alice Geldig" || sur != "Specimen" || sn != "85073100123" {
					t.Errorf("identity = %q %q %q", given, sur, sn)
				}
				return
			}
			if a != nil {
				t.Errorf("got a result with error %v", err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate error = %v, want %v", err, tc.want)
			}
			// Each failure matches exactly one top-level category.
			n := 0
			for _, s := range categories {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("error %v matches %d categories", err, n)
			}
			if tc.wantAs != nil {
				switch target := tc.wantAs.(type) {
				case *x509.UnknownAuthorityError:
					if !errors.As(err, target) {
						t.Errorf("error %v does not unwrap to %T", err, target)
					}
				case *x509.CertificateInvalidError:
					if !errors.As(err, target) {
						t.Errorf("error %v does not unwrap to %T", err, target)
					}
				}
			}
			var ce *CertificateError
			if errors.Is(err, ErrCertificate) && !errors.As(err, &ce) {
				t.Errorf("certificate error %v is not a *CertificateError", err)
			}
		})
	}
}

// categories are the top-level errors; every failure matches exactly one.
var categories = []error{ErrFormat, ErrAlgorithm, ErrCertificate, ErrSignature, ErrNonce, ErrRevocationUnavailable}

// newKeyCert makes a valid leaf for an unrelated key.
func newKeyCert(e *env, key crypto.Signer) (*x509.Certificate, crypto.Signer) {
	return e.pki.leaf(e.t, key.Public(), leafOpts{}), key
}

func TestValidateExpiredCertificateReason(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(6 * 365 * 24 * time.Hour) // past the leaf's NotAfter...
	// ...but also past the nonce's TTL: issue a fresh one at the new time.
	n, err := e.v.NewNonce(context.Background(), testSession)
	if err != nil {
		t.Fatal(err)
	}
	tok := makeToken(t, keyP384, e.auth, "ES384", testOrigin, n)
	_, err = e.v.Validate(context.Background(), tok, testSession, n)
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("error = %v, want x509 Expired", err)
	}
}

func TestValidatorOriginCanonical(t *testing.T) {
	testKeys(t)
	pki := newTestPKI(t, keyRootA, keyCAA)
	c := &clock{t: testNow}
	// The portal configured its origin with a default port and upper case;
	// browsers send "https://portal.example".
	pki.serveOCSP(t, c)
	v, err := NewValidator(Config{Origin: "HTTPS://Portal.Example:443/", Roots: pki.roots, Intermediates: pki.inter, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if v.Origin() != testOrigin {
		t.Fatalf("Origin() = %q", v.Origin())
	}
	n, _ := v.NewNonce(context.Background(), testSession)
	cert := pki.leaf(t, keyP384.Public(), leafOpts{})
	if _, err := v.Validate(context.Background(), makeToken(t, keyP384, cert, "ES384", testOrigin, n), testSession, n); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidatorConfig(t *testing.T) {
	roots := x509.NewCertPool()
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{Origin: "https://a.example", Roots: roots}, true},
		{"no roots", Config{Origin: "https://a.example"}, false},
		{"no origin", Config{Roots: roots}, false},
		{"http public", Config{Origin: "http://a.example", Roots: roots}, false},
		{"http localhost", Config{Origin: "http://localhost:8080", Roots: roots}, true},
		{"negative ttl", Config{Origin: "https://a.example", Roots: roots, NonceTTL: -time.Second}, false},
		{"negative OCSP timeout", Config{Origin: "https://a.example", Roots: roots, Revocation: RevocationConfig{Timeout: -time.Second}}, false},
		{"responder without certificate", Config{Origin: "https://a.example", Roots: roots, Revocation: RevocationConfig{Responders: []OCSPResponder{{URL: "http://127.0.0.1:1/"}}}}, false},
		{"responder not http", Config{Origin: "https://a.example", Roots: roots, Revocation: RevocationConfig{Responders: []OCSPResponder{{URL: "ldap://x/", Certificate: &x509.Certificate{}}}}}, false},
		{"revocation disabled", Config{Origin: "https://a.example", Roots: roots, Revocation: RevocationConfig{Disabled: true}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewValidator(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewValidator err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCanonicalOrigin(t *testing.T) {
	cases := []struct {
		in, want string // want "" = error
	}{
		{"https://localhost:8443", "https://localhost:8443"},
		{"https://Portal.Example", "https://portal.example"},
		{"https://portal.example:443", "https://portal.example"},
		{"https://portal.example/", "https://portal.example"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://localhost:80", "http://localhost"},
		{"http://portal.example", ""},
		{"https://portal.example/login", ""},
		{"https://portal.example?x=1", ""},
		{"https://user@portal.example", ""},
		{"wss://portal.example", ""},
		{"portal.example", ""},
		{"", ""},
		{"null", ""},
		{"https://bücher.example", ""},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"https://portal.example\t", ""},
	}
	for _, tc := range cases {
		got, err := CanonicalOrigin(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("CanonicalOrigin(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNewNonce(t *testing.T) {
	testKeys(t)
	v, err := NewValidator(Config{Origin: testOrigin, Roots: x509.NewCertPool()})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 100 {
		n, err := v.NewNonce(context.Background(), "s")
		if err != nil {
			t.Fatal(err)
		}
		if len(n) != 44 {
			t.Fatalf("nonce %q has %d chars, want 44", n, len(n))
		}
		b, err := base64.StdEncoding.DecodeString(n)
		if err != nil || len(b) != NonceBytes {
			t.Fatalf("nonce %q: %v, %d bytes", n, err, len(b))
		}
		if seen[n] {
			t.Fatalf("nonce %q issued twice", n)
		}
		seen[n] = true
	}
}

// failingStore checks that store failures are reported as such, not as a
// nonce the attacker got wrong.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) Issue(context.Context, string, string, time.Time) error { return errStoreDown }
func (failingStore) Consume(context.Context, string, string) (time.Time, error) {
	return time.Time{}, errStoreDown
}

func TestNonceStoreFailure(t *testing.T) {
	v, err := NewValidator(Config{Origin: testOrigin, Roots: x509.NewCertPool(), Nonces: failingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewNonce(context.Background(), "s"); !errors.Is(err, errStoreDown) {
		t.Errorf("NewNonce error = %v", err)
	}
	_, err = v.Validate(context.Background(), &AuthToken{}, "s", "x")
	if !errors.Is(err, errStoreDown) || errors.Is(err, ErrNonce) {
		t.Errorf("Validate error = %v", err)
	}
}

func TestParseAuthToken(t *testing.T) {
	good := `{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AAAA","format":"web-eid:1","appVersion":"https://x/1","extra":1}`
	tok, err := ParseAuthToken([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Algorithm != "ES384" || tok.UnverifiedCertificate != "MIIB" || tok.Format != "web-eid:1" || tok.AppVersion != "https://x/1" {
		t.Errorf("parsed %+v", tok)
	}
	for _, bad := range []string{"", "null", "[]", `"x"`, "{", `{"algorithm":5}`, "{" + strings.Repeat(" ", MaxTokenSize) + "}"} {
		if _, err := ParseAuthToken([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseAuthToken(%.20q) error = %v, want ErrFormat", bad, err)
		}
	}
}
