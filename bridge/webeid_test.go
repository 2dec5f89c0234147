package bridge_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/webeid"
)

// TestAuthenticateWithSigningCertificate: with getSigningCertificate the
// daemon's token is web-eid:1.1 and carries the card's signing certificate,
// and the portal-side package accepts the whole token (chain, policies,
// OCSP, same holder) and hands the signing certificate on; without it the
// token stays web-eid:1.0.
func TestAuthenticateWithSigningCertificate(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			e, card := newEnv(t, pr.p, preConsented)
			pki := card.PKI()
			ocsp := httptest.NewServer(pki.OCSPResponder())
			t.Cleanup(ocsp.Close)
			v, err := webeid.NewValidator(webeid.Config{
				Origin: testOrigin, Roots: pki.Roots(), Intermediates: pki.Intermediates(),
				Policies:   webeid.Policies{Authentication: []x509.OID{sim.AuthenticationPolicy()}, Signing: []x509.OID{sim.SignaturePolicy()}},
				Revocation: webeid.RevocationConfig{Responders: []webeid.OCSPResponder{{URL: ocsp.URL, Certificate: pki.CA, RequireNonce: true}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c := e.dial(testOrigin)
			for _, withSigning := range []bool{true, false} {
				n, err := v.NewNonce(ctx, "session")
				if err != nil {
					t.Fatal(err)
				}
				e.prompter.EnterPIN(testPIN)
				var raw json.RawMessage
				c.ok("authenticate", map[string]any{"challengeNonce": n, "getSigningCertificate": withSigning}, &raw)
				var tok webeid.AuthToken
				if err := json.Unmarshal(raw, &tok); err != nil {
					t.Fatal(err)
				}
				a, err := v.Validate(ctx, &tok, "session", n)
				if err != nil {
					t.Fatalf("getSigningCertificate=%v: Validate: %v (token %s)", withSigning, err, raw)
				}
				if !withSigning {
					if tok.Format != "web-eid:1.0" || len(a.SigningCertificates) != 0 {
						t.Errorf("without the flag: format %q, %d signing certificates", tok.Format, len(a.SigningCertificates))
					}
					continue
				}
				if tok.Format != "web-eid:1.1" || len(a.SigningCertificates) != 1 || !a.SigningCertificates[0].Certificate.Equal(card.SignCert()) {
					t.Fatalf("with the flag: format %q, signing certificates %+v", tok.Format, a.SigningCertificates)
				}
				algs := a.SigningCertificates[0].SupportedSignatureAlgorithms
				want := map[sim.Profile]string{sim.ProfileECC: "ECC", sim.ProfileRSA: "RSA"}[pr.p]
				if len(algs) != 3 || algs[0].CryptoAlgorithm != want || algs[1].HashFunction != "SHA-384" {
					t.Errorf("supported algorithms %+v", algs)
				}
			}
		})
	}
}
