package webeid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/cardbridge/cardbridge/internal/ocspwire"
)

// fakeResponder is an OCSP responder whose every answer a test writes:
// answer gets the parsed request and returns the HTTP status and body.
type fakeResponder struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	answer   func(req *ocspwire.Request) (int, []byte)
	requests int
}

func newFakeResponder(t *testing.T) *fakeResponder {
	f := &fakeResponder{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 4096)
		n, _ := r.Body.Read(body)
		req, err := ocspwire.ParseRequest(body[:n])
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/ocsp-request" {
			t.Errorf("bad OCSP request: %s %q: %v", r.Method, r.Header.Get("Content-Type"), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		answer := f.answer
		f.requests++
		f.mu.Unlock()
		status, b := answer(req)
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.WriteHeader(status)
		w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeResponder) set(answer func(req *ocspwire.Request) (int, []byte)) {
	f.mu.Lock()
	f.answer = answer
	f.mu.Unlock()
}

func (f *fakeResponder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// response describes a response to forge; the zero value is a good,
// fresh answer about the requested certificate, signed by the issuing CA,
// echoing the nonce.
type response struct {
	status               int
	thisUpdate           time.Duration // relative to testNow
	nextUpdate           time.Duration // relative to testNow; 0 with noNextUpdate
	noNextUpdate         bool
	signer               crypto.Signer // nil: the CA's key
	signerCert           *x509.Certificate
	embed                bool
	id                   func(ocspwire.CertID) ocspwire.CertID // rewrites the CertID
	nonce                []byte                                // nonce extension to send instead of the request's
	noNonce              bool
	revokedAt            time.Time
	revocationReasonCode int
}

func (o response) build(t *testing.T, p *testPKI, req *ocspwire.Request) []byte {
	t.Helper()
	tmpl := ocspwire.ResponseTemplate{
		CertID:     req.CertIDs[0],
		Status:     o.status,
		RevokedAt:  o.revokedAt,
		Reason:     o.revocationReasonCode,
		ThisUpdate: testNow.Add(o.thisUpdate),
		NextUpdate: testNow.Add(o.thisUpdate + 10*time.Minute),
		ProducedAt: testNow,
		NonceExt:   req.NonceExt,
	}
	if o.nextUpdate != 0 {
		tmpl.NextUpdate = testNow.Add(o.nextUpdate)
	}
	if o.noNextUpdate {
		tmpl.NextUpdate = time.Time{}
	}
	if o.id != nil {
		tmpl.CertID = o.id(tmpl.CertID)
	}
	if o.nonce != nil {
		tmpl.NonceExt = o.nonce
	}
	if o.noNonce {
		tmpl.NonceExt = nil
	}
	signer, cert := crypto.Signer(p.caKey), p.ca
	if o.signer != nil {
		signer, cert = o.signer, o.signerCert
	}
	der, err := ocspwire.CreateResponse(tmpl, cert, signer, o.embed)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// responderCert issues a delegated responder certificate under parent.
func responderCert(t *testing.T, parent *x509.Certificate, parentKey crypto.Signer, key crypto.Signer, eku []x509.ExtKeyUsage, notAfter time.Time) *x509.Certificate {
	t.Helper()
	return createCert(t, &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: "Test OCSP Responder"},
		NotBefore:    testNow.AddDate(-1, 0, 0),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
	}, parent, key.Public(), parentKey)
}

// ocspFixture is a validator whose leaves name a fakeResponder.
type ocspFixture struct {
	pki  *testPKI
	fake *fakeResponder
	v    *Validator
	leaf *x509.Certificate
}

func newOCSPFixture(t *testing.T, tweak func(*Config)) *ocspFixture {
	t.Helper()
	testKeys(t)
	pki := newTestPKI(t, keyRootA, keyCAA)
	fake := newFakeResponder(t)
	pki.ocspURL = fake.srv.URL + "/eid"
	cfg := Config{Origin: testOrigin, Roots: pki.roots, Intermediates: pki.inter, Now: func() time.Time { return testNow }}
	if tweak != nil {
		tweak(&cfg)
	}
	v, err := NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &ocspFixture{pki: pki, fake: fake, v: v, leaf: pki.leaf(t, keyP384.Public(), leafOpts{})}
}

// TestOCSPResponses checks one forged, broken or valid response per case
// against a leaf that names the responder.
func TestOCSPResponses(t *testing.T) {
	testKeys(t)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPKI := newTestPKI(t, keyRootB, keyP256)
	revokedAt := testNow.Add(-48 * time.Hour).Truncate(time.Second)
	good := func(o response) func(*testing.T, *ocspFixture) (int, func(*ocspwire.Request) []byte) {
		return func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			return http.StatusOK, func(req *ocspwire.Request) []byte { return o.build(t, f.pki, req) }
		}
	}
	raw := func(status int, body []byte) func(*testing.T, *ocspFixture) (int, func(*ocspwire.Request) []byte) {
		return func(*testing.T, *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			return status, func(*ocspwire.Request) []byte { return body }
		}
	}
	cases := []struct {
		name   string
		answer func(*testing.T, *ocspFixture) (int, func(*ocspwire.Request) []byte)
		want   error // nil: accepted
		reason string
	}{
		{name: "good, signed by the issuer", answer: good(response{})},
		{name: "good, from a delegated responder", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			rc := responderCert(t, f.pki.ca, f.pki.caKey, otherKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.AddDate(1, 0, 0))
			return good(response{signer: otherKey, signerCert: rc, embed: true})(t, f)
		}},
		{name: "good, issuer certificate embedded", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			return good(response{signer: f.pki.caKey, signerCert: f.pki.ca, embed: true})(t, f)
		}},
		{name: "good, built by golang.org/x/crypto/ocsp (no nonce)", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			return http.StatusOK, func(req *ocspwire.Request) []byte {
				der, err := ocsp.CreateResponse(f.pki.ca, f.pki.ca, ocsp.Response{
					Status: ocsp.Good, SerialNumber: req.CertIDs[0].SerialNumber, ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour),
				}, f.pki.caKey)
				if err != nil {
					t.Fatal(err)
				}
				return der
			}
		}},
		{name: "good, responder without nonce support", answer: good(response{noNonce: true})},
		{name: "good, nextUpdate passed within the clock skew", answer: good(response{thisUpdate: -time.Hour, nextUpdate: -time.Minute})},
		{name: "good, no nextUpdate, recent", answer: good(response{thisUpdate: -time.Minute, noNextUpdate: true})},
		{name: "revoked", want: ErrRevoked, answer: good(response{status: ocspwire.Revoked, revokedAt: revokedAt, revocationReasonCode: 1})},
		{name: "unknown", want: ErrRevocationUnavailable, reason: "status unknown", answer: good(response{status: ocspwire.Unknown})},
		{name: "signed by an unrelated key", want: ErrRevocationUnavailable, reason: "unauthorised", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			self := createCert(t, &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "mallory"}, NotBefore: testNow.AddDate(-1, 0, 0), NotAfter: testNow.AddDate(1, 0, 0),
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, &x509.Certificate{Subject: pkix.Name{CommonName: "mallory"}}, otherKey.Public(), otherKey)
			return good(response{signer: otherKey, signerCert: self})(t, f)
		}},
		{name: "signed by the leaf's own key", want: ErrRevocationUnavailable, reason: "unauthorised", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			return good(response{signer: keyP384, signerCert: f.leaf, embed: true})(t, f)
		}},
		{name: "signed by another CA", want: ErrRevocationUnavailable, reason: "unauthorised", answer: good(response{signer: otherPKI.caKey, signerCert: otherPKI.ca})},
		{name: "delegated responder without the OCSP-signing usage", want: ErrRevocationUnavailable, reason: "unauthorised", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			rc := responderCert(t, f.pki.ca, f.pki.caKey, otherKey, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, testNow.AddDate(1, 0, 0))
			return good(response{signer: otherKey, signerCert: rc, embed: true})(t, f)
		}},
		{name: "delegated responder of another CA", want: ErrRevocationUnavailable, reason: "unauthorised", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			rc := responderCert(t, otherPKI.ca, otherPKI.caKey, otherKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.AddDate(1, 0, 0))
			return good(response{signer: otherKey, signerCert: rc, embed: true})(t, f)
		}},
		{name: "delegated responder certificate expired", want: ErrRevocationUnavailable, reason: "unauthorised", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			rc := responderCert(t, f.pki.ca, f.pki.caKey, otherKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.Add(-time.Hour))
			return good(response{signer: otherKey, signerCert: rc, embed: true})(t, f)
		}},
		{name: "stale: nextUpdate passed", want: ErrRevocationUnavailable, reason: "stale", answer: good(response{thisUpdate: -2 * time.Hour, nextUpdate: -time.Hour})},
		{name: "stale: no nextUpdate, old thisUpdate", want: ErrRevocationUnavailable, reason: "stale", answer: good(response{thisUpdate: -time.Hour, noNextUpdate: true})},
		{name: "thisUpdate in the future", want: ErrRevocationUnavailable, reason: "not yet valid", answer: good(response{thisUpdate: 10 * time.Minute})},
		{name: "nextUpdate before thisUpdate", want: ErrRevocationUnavailable, reason: "nextUpdate before", answer: good(response{nextUpdate: -time.Minute})},
		{name: "another certificate's serial", want: ErrRevocationUnavailable, reason: "none for this certificate", answer: good(response{id: func(id ocspwire.CertID) ocspwire.CertID {
			id.SerialNumber = nextSerial()
			return id
		}})},
		{name: "same serial, another issuer's name", want: ErrRevocationUnavailable, reason: "another certificate", answer: good(response{id: func(id ocspwire.CertID) ocspwire.CertID {
			id.NameHash = append([]byte{id.NameHash[0] ^ 1}, id.NameHash[1:]...)
			return id
		}})},
		{name: "same serial, another issuer's key", want: ErrRevocationUnavailable, reason: "another certificate", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			return good(response{id: func(id ocspwire.CertID) ocspwire.CertID {
				other, err := ocspwire.NewCertID(f.leaf, otherPKI.ca, crypto.SHA1)
				if err != nil {
					t.Fatal(err)
				}
				return other
			}})(t, f)
		}},
		{name: "nonce of another request (replay)", want: ErrRevocationUnavailable, reason: "nonce", answer: func(t *testing.T, f *ocspFixture) (int, func(*ocspwire.Request) []byte) {
			stale, _ := ocspwire.NonceExtension([]byte("an older request's nonce"))
			return good(response{nonce: stale})(t, f)
		}},
		{name: "responder says tryLater", want: ErrRevocationUnavailable, reason: "try later", answer: raw(http.StatusOK, []byte{0x30, 0x03, 0x0A, 0x01, 0x03})},
		{name: "HTTP 500", want: ErrRevocationUnavailable, reason: "HTTP 500", answer: raw(http.StatusInternalServerError, nil)},
		{name: "garbage", want: ErrRevocationUnavailable, reason: "malformed", answer: raw(http.StatusOK, []byte("<html>captive portal</html>"))},
		{name: "oversized", want: ErrRevocationUnavailable, reason: "larger than", answer: raw(http.StatusOK, make([]byte, maxOCSPResponseSize+1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newOCSPFixture(t, nil)
			status, body := tc.answer(t, f)
			f.fake.set(func(req *ocspwire.Request) (int, []byte) { return status, body(req) })
			err := f.v.VerifyCertificate(context.Background(), f.leaf, PurposeAuthentication)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifyCertificate: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyCertificate = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			n := 0
			for _, c := range categories {
				if errors.Is(err, c) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("error %v matches %d categories", err, n)
			}
			var oe *OCSPError
			if errors.Is(err, ErrRevocationUnavailable) && (!errors.As(err, &oe) || oe.URL != f.pki.ocspURL) {
				t.Errorf("error %v is not an *OCSPError naming %s", err, f.pki.ocspURL)
			}
			var re *RevokedError
			if errors.Is(err, ErrRevoked) && (!errors.As(err, &re) || !re.RevokedAt.Equal(revokedAt) || re.Reason != 1 || re.SerialNumber.Cmp(f.leaf.SerialNumber) != 0) {
				t.Errorf("revocation detail: %+v", re)
			}
		})
	}
}

// TestOCSPUnreachable: no answer means no login (fail closed), unless the
// portal opted out of revocation checking.
func TestOCSPUnreachable(t *testing.T) {
	testKeys(t)
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answer only after the client gave up
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []struct {
		name     string
		url      string // "" leaves the AIA out
		disabled bool
		wantErr  error // besides ErrRevocationUnavailable
		reason   string
	}{
		{name: "connection refused", url: closed.URL, reason: "unreachable"},
		{name: "no answer within the timeout", url: slow.URL, wantErr: context.DeadlineExceeded, reason: "unreachable"},
		{name: "no responder named", url: "", reason: "names no OCSP responder"},
		{name: "connection refused, checking disabled", url: closed.URL, disabled: true},
		{name: "no responder, checking disabled", url: "", disabled: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pki := newTestPKI(t, keyRootA, keyCAA)
			pki.ocspURL = tc.url
			c := &clock{t: testNow}
			v, err := NewValidator(Config{Origin: testOrigin, Roots: pki.roots, Intermediates: pki.inter, Now: c.Now,
				Revocation: RevocationConfig{Disabled: tc.disabled, Timeout: 200 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			if v.RevocationChecked() == tc.disabled {
				t.Errorf("RevocationChecked = %v", v.RevocationChecked())
			}
			nonce, _ := v.NewNonce(context.Background(), testSession)
			cert := pki.leaf(t, keyP384.Public(), leafOpts{})
			start := time.Now()
			_, err = v.Validate(context.Background(), makeToken(t, keyP384, cert, "ES384", testOrigin, nonce), testSession, nonce)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Validate took %v", took)
			}
			if tc.disabled {
				if err != nil {
					t.Fatalf("with checking disabled: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRevocationUnavailable) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Validate = %v, want ErrRevocationUnavailable (%v, %q)", err, tc.wantErr, tc.reason)
			}
		})
	}
}

// TestOCSPCache: answers are reused until nextUpdate or CacheTTL, whichever
// comes first, and the cache stays within CacheSize.
func TestOCSPCache(t *testing.T) {
	testKeys(t)
	c := &clock{t: testNow}
	f := newOCSPFixture(t, func(cfg *Config) {
		cfg.Now = c.Now
		cfg.Revocation.CacheSize = 2
	})
	nextUpdate := 3 * time.Minute // shorter than DefaultOCSPCacheTTL
	f.fake.set(func(req *ocspwire.Request) (int, []byte) {
		now := c.Now().Sub(testNow)
		return http.StatusOK, response{thisUpdate: now, nextUpdate: now + nextUpdate}.build(t, f.pki, req)
	})
	ctx := context.Background()
	check := func(cert *x509.Certificate, wantRequests int) {
		t.Helper()
		if err := f.v.VerifyCertificate(ctx, cert, PurposeAuthentication); err != nil {
			t.Fatal(err)
		}
		if got := f.fake.count(); got != wantRequests {
			t.Fatalf("%d requests, want %d", got, wantRequests)
		}
	}
	check(f.leaf, 1)
	check(f.leaf, 1) // from the cache
	c.Advance(nextUpdate)
	check(f.leaf, 2) // nextUpdate reached
	nextUpdate = time.Hour
	c.Advance(nextUpdate)
	check(f.leaf, 3)
	c.Advance(DefaultOCSPCacheTTL - time.Second)
	check(f.leaf, 3)
	c.Advance(time.Second)
	check(f.leaf, 4) // CacheTTL caps a far nextUpdate

	a, b := f.pki.leaf(t, keyP384.Public(), leafOpts{}), f.pki.leaf(t, keyP384.Public(), leafOpts{})
	check(a, 5)
	check(b, 6)
	if n := len(f.v.ocsp.cache.m); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
	check(b, 6)

	// A failure is not cached: the next login asks again.
	f.fake.set(func(*ocspwire.Request) (int, []byte) { return http.StatusServiceUnavailable, nil })
	c.Advance(time.Hour)
	for i := range 2 {
		if err := f.v.VerifyCertificate(ctx, a, PurposeAuthentication); !errors.Is(err, ErrRevocationUnavailable) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if got := f.fake.count(); got != 8 {
		t.Errorf("%d requests, want 8", got)
	}
}

// TestOCSPDesignatedResponder: a responder the portal names takes over
// from the AIA for the issuers it serves, and only its key may sign.
func TestOCSPDesignatedResponder(t *testing.T) {
	testKeys(t)
	respKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPKI := newTestPKI(t, keyRootB, keyP256)
	cases := []struct {
		name   string
		resp   func(f *ocspFixture) OCSPResponder
		answer response
		want   error
	}{
		{name: "designated responder answers", resp: func(f *ocspFixture) OCSPResponder {
			return OCSPResponder{Certificate: responderCert(t, f.pki.ca, f.pki.caKey, respKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.AddDate(1, 0, 0))}
		}},
		{name: "designated responder is the CA", resp: func(f *ocspFixture) OCSPResponder {
			return OCSPResponder{Certificate: f.pki.ca}
		}, answer: response{signer: keyCAA, signerCert: nil}},
		{name: "response signed by the issuer, not the designated key", want: ErrRevocationUnavailable, resp: func(f *ocspFixture) OCSPResponder {
			return OCSPResponder{Certificate: responderCert(t, f.pki.ca, f.pki.caKey, respKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.AddDate(1, 0, 0))}
		}, answer: response{signer: keyCAA}},
		{name: "designated certificate lacks OCSP signing", want: ErrRevocationUnavailable, resp: func(f *ocspFixture) OCSPResponder {
			return OCSPResponder{Certificate: responderCert(t, f.pki.ca, f.pki.caKey, respKey, nil, testNow.AddDate(1, 0, 0))}
		}},
		{name: "nonce required, none echoed", want: ErrRevocationUnavailable, resp: func(f *ocspFixture) OCSPResponder {
			return OCSPResponder{RequireNonce: true, Certificate: responderCert(t, f.pki.ca, f.pki.caKey, respKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.AddDate(1, 0, 0))}
		}, answer: response{noNonce: true}},
		{name: "serves other issuers only: the AIA responder is asked", want: ErrRevocationUnavailable, resp: func(f *ocspFixture) OCSPResponder {
			return OCSPResponder{Issuers: []*x509.Certificate{otherPKI.ca}, Certificate: responderCert(t, f.pki.ca, f.pki.caKey, respKey, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, testNow.AddDate(1, 0, 0))}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pki := newTestPKI(t, keyRootA, keyCAA)
			fake := newFakeResponder(t)
			f := &ocspFixture{pki: pki, fake: fake}
			d := tc.resp(f)
			d.URL = fake.srv.URL
			answer := tc.answer
			if answer.signer == nil {
				answer.signer, answer.signerCert = respKey, d.Certificate
			}
			if answer.signerCert == nil {
				answer.signerCert = d.Certificate
			}
			fake.set(func(req *ocspwire.Request) (int, []byte) { return http.StatusOK, answer.build(t, pki, req) })
			v, err := NewValidator(Config{Origin: testOrigin, Roots: pki.roots, Intermediates: pki.inter, Now: func() time.Time { return testNow },
				Revocation: RevocationConfig{Responders: []OCSPResponder{d}}})
			if err != nil {
				t.Fatal(err)
			}
			// The leaf names no responder: only the designated one can answer.
			leaf := pki.leaf(t, keyP384.Public(), leafOpts{noOCSP: true})
			err = v.VerifyCertificate(context.Background(), leaf, PurposeAuthentication)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("VerifyCertificate = %v, want %v", err, tc.want)
			}
		})
	}
}
