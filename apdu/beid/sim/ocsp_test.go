package sim

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// TestOCSPResponder asks the responder the way clients do (POST, and GET
// with the request in the path) and reads the answers with
// golang.org/x/crypto/ocsp.
func TestOCSPResponder(t *testing.T) {
	pki := testPKI[ProfileECC]
	card, err := New(Options{PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	delegated, err := pki.DelegatedOCSPResponder()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*OCSPResponder{"CA-signed": pki.OCSPResponder(), "delegated": delegated} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(r)
			defer srv.Close()
			req, err := ocsp.CreateRequest(card.AuthCert(), pki.CA, &ocsp.RequestOptions{Hash: crypto.SHA256})
			if err != nil {
				t.Fatal(err)
			}
			ask := func(get bool) *ocsp.Response {
				t.Helper()
				var res *http.Response
				var err error
				if get {
					res, err = http.Get(srv.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)))
				} else {
					res, err = http.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
				}
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if ct := res.Header.Get("Content-Type"); ct != "application/ocsp-response" {
					t.Errorf("Content-Type %q", ct)
				}
				resp, err := ocsp.ParseResponseForCert(body, card.AuthCert(), pki.CA)
				if err != nil {
					t.Fatal(err)
				}
				if !resp.NextUpdate.Equal(resp.ThisUpdate.Add(OCSPValidity)) {
					t.Errorf("validity %v..%v", resp.ThisUpdate, resp.NextUpdate)
				}
				return resp
			}
			if s := ask(false).Status; s != ocsp.Good {
				t.Errorf("POST: status %d, want good", s)
			}
			r.Revoke(card.AuthCert())
			if s := ask(true).Status; s != ocsp.Revoked {
				t.Errorf("GET after Revoke: status %d, want revoked", s)
			}
			r.Unrevoke(card.AuthCert())
			if s := ask(false).Status; s != ocsp.Good {
				t.Errorf("after Unrevoke: status %d, want good", s)
			}
			if n := r.Requests(); n != 3 {
				t.Errorf("Requests = %d", n)
			}

			// A certificate of another CA is unknown here; garbage gets the
			// OCSP "malformed request" answer.
			foreign, _ := ocsp.CreateRequest(card.AuthCert(), testPKI[ProfileRSA].CA, nil)
			res, err := http.Post(srv.URL, "application/ocsp-request", bytes.NewReader(foreign))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if resp, err := ocsp.ParseResponse(body, nil); err != nil || resp.Status != ocsp.Unknown {
				t.Errorf("another CA's certificate: %v, %v", resp, err)
			}
			res, err = http.Post(srv.URL, "application/ocsp-request", bytes.NewReader([]byte("garbage")))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
				t.Errorf("garbage: % X", body)
			}
		})
	}
}

// TestCertificatePoliciesAndAIA: the card's certificates carry the test
// policies and, once the PKI has one, the responder's URL.
func TestCertificatePoliciesAndAIA(t *testing.T) {
	pki := *testPKI[ProfileECC] // a copy: OCSPURL must not leak into other tests
	pki.OCSPURL = "http://127.0.0.1:9/ocsp"
	card, err := New(Options{PKI: &pki})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		cert   *x509.Certificate
		policy x509.OID
	}{{"authentication", card.AuthCert(), AuthenticationPolicy()}, {"signature", card.SignCert(), SignaturePolicy()}} {
		if len(c.cert.Policies) != 1 || !c.cert.Policies[0].Equal(c.policy) {
			t.Errorf("%s certificate policies %v, want %v", c.name, c.cert.Policies, c.policy)
		}
		if len(c.cert.OCSPServer) != 1 || c.cert.OCSPServer[0] != pki.OCSPURL {
			t.Errorf("%s certificate OCSP %v", c.name, c.cert.OCSPServer)
		}
	}
	if AuthenticationPolicy().Equal(SignaturePolicy()) {
		t.Error("one policy for both uses")
	}
}
