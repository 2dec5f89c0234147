package webeid

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/internal/realcards"
)

// TestPolicies: a leaf is accepted for a purpose only under one of the
// accepted policies for that purpose.
func TestPolicies(t *testing.T) {
	testKeys(t)
	testArc := mustOID([]uint64{2, 999, 1})
	foreigner := mustOID([]uint64{2, 16, 56, 9, 1, 1, 7, 2})
	cases := []struct {
		name     string
		policies Policies // the portal's configuration
		leaf     leafOpts
		want     error
	}{
		{name: "citizen authentication policy", leaf: leafOpts{}},
		{name: "foreigner authentication policy (Root CA2)", leaf: leafOpts{policies: []x509.OID{foreigner}}},
		{name: "several policies, one accepted", leaf: leafOpts{policies: []x509.OID{testArc, policyAuth}}},
		{name: "foreign policy", leaf: leafOpts{policies: []x509.OID{testArc}}, want: ErrPolicy},
		{name: "no policy at all", leaf: leafOpts{noPolicy: true}, want: ErrPolicy},
		{name: "signature policy on an authentication certificate", leaf: leafOpts{policies: []x509.OID{policySign}}, want: ErrPolicy},
		{name: "policy one arc longer", leaf: leafOpts{policies: []x509.OID{mustOID([]uint64{2, 16, 56, 12, 1, 1, 2, 2, 1})}}, want: ErrPolicy},
		{name: "portal's own policy", policies: Policies{Authentication: []x509.OID{testArc}}, leaf: leafOpts{policies: []x509.OID{testArc}}},
		{name: "portal's own policy replaces the defaults", policies: Policies{Authentication: []x509.OID{testArc}}, leaf: leafOpts{}, want: ErrPolicy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pki := newTestPKI(t, keyRootA, keyCAA)
			c := &clock{t: testNow}
			pki.serveOCSP(t, c)
			v, err := NewValidator(Config{Origin: testOrigin, Roots: pki.roots, Intermediates: pki.inter, Now: c.Now, Policies: tc.policies})
			if err != nil {
				t.Fatal(err)
			}
			nonce, _ := v.NewNonce(context.Background(), testSession)
			cert := pki.leaf(t, keyP384.Public(), tc.leaf)
			_, err = v.Validate(context.Background(), makeToken(t, keyP384, cert, "ES384", testOrigin, nonce), testSession, nonce)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *CertificateError
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrCertificate) || !errors.As(err, &ce) {
				t.Fatalf("Validate = %v, want %v inside a *CertificateError", err, tc.want)
			}
		})
	}
}

// TestBelgianPoliciesMatchRealCertificates checks the default policies
// against the real Belgian root and CA certificates: every policy arc a
// real root asserts has its citizen and foreigner, authentication and
// signature policies among the defaults, and the 2020 Citizen and
// Foreigner CAs assert anyPolicy (so the leaf's policy is the one that
// decides). The specimen card's certificates, from the eID test PKI, carry
// a test policy and must be refused.
func TestBelgianPoliciesMatchRealCertificates(t *testing.T) {
	dir := realcards.Dir(t)
	def := BelgianEIDPolicies()
	files, err := filepath.Glob(filepath.Join(dir, "belgian-roots", "*.pem"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no certificates in %s/belgian-roots: %v", dir, err)
	}
	anyPolicy := mustOID([]uint64{2, 5, 29, 32, 0})
	var rootArcs []x509.OID
	for _, f := range files {
		cert := readPEMCert(t, f)
		name := cert.Subject.CommonName
		switch {
		case slices.ContainsFunc(cert.Policies, anyPolicy.Equal):
			if cert.Subject.String() == cert.Issuer.String() || !cert.IsCA {
				t.Errorf("%s: anyPolicy on a root or a leaf", name)
			}
			if !strings.Contains(name, "Citizen CA") && !strings.Contains(name, "Foreigner CA") {
				t.Errorf("%s: unexpected issuing CA", name)
			}
		case len(cert.Policies) > 0:
			for _, arc := range cert.Policies {
				rootArcs = append(rootArcs, arc)
				for _, sub := range [][2]uint64{{belgianCitizen, belgianAuth}, {belgianForeigner, belgianAuth}} {
					if want := child(t, arc, sub[0], sub[1]); !slices.ContainsFunc(def.Authentication, want.Equal) {
						t.Errorf("%s asserts %s, but %s is not a default authentication policy", name, arc, want)
					}
				}
				for _, sub := range [][2]uint64{{belgianCitizen, belgianSign}, {belgianForeigner, belgianSign}} {
					if want := child(t, arc, sub[0], sub[1]); !slices.ContainsFunc(def.Signing, want.Equal) {
						t.Errorf("%s asserts %s, but %s is not a default signing policy", name, arc, want)
					}
				}
			}
		}
	}
	// Every arc of the defaults but the first root's (whose certificate is
	// not in the folder) is one a real root asserts.
	for _, arc := range belgianRootArcs[1:] {
		if !slices.ContainsFunc(rootArcs, mustOID(arc).Equal) {
			t.Errorf("default arc %v is asserted by no real root certificate", arc)
		}
	}

	// The specimen card (eID test PKI): authentication and signature
	// certificates of one holder, under a test policy.
	der, err := os.ReadFile(filepath.Join(dir, "commons-eid", "71715100070.eid"))
	if err != nil {
		t.Fatal(err)
	}
	var auth, sign *x509.Certificate
	for _, c := range certificatesIn(der) {
		switch {
		case strings.HasSuffix(c.Subject.CommonName, roleAuthentication):
			auth = c
		case strings.HasSuffix(c.Subject.CommonName, roleSignature):
			sign = c
		}
	}
	if auth == nil || sign == nil {
		t.Fatal("the specimen card's certificates were not found")
	}
	if err := def.check(auth, PurposeAuthentication); !errors.Is(err, ErrPolicy) {
		t.Errorf("specimen authentication certificate (policies %v): %v, want ErrPolicy", auth.Policies, err)
	}
	if err := def.check(sign, PurposeSigning); !errors.Is(err, ErrPolicy) {
		t.Errorf("specimen signature certificate (policies %v): %v, want ErrPolicy", sign.Policies, err)
	}
	// Its two certificates differ only in the common name's role, which
	// is what sameHolder allows.
	if !sameHolder(auth, sign) {
		t.Errorf("specimen certificates %q and %q are not recognised as one holder's", auth.Subject, sign.Subject)
	}
	if sameHolder(sign, auth) {
		t.Error("roles swapped were accepted")
	}
}

// child returns arc.holder.use.
func child(t *testing.T, arc x509.OID, holder, use uint64) x509.OID {
	t.Helper()
	oid, err := x509.ParseOID(fmt.Sprintf("%s.%d.%d", arc, holder, use))
	if err != nil {
		t.Fatal(err)
	}
	return oid
}

func readPEMCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

// certificatesIn finds the DER certificates inside a file of another
// format (the eID viewer's saves certificates among other fields).
func certificatesIn(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for i := 0; i+4 < len(b); i++ {
		if b[i] != 0x30 || b[i+1] != 0x82 {
			continue
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if i+4+n > len(b) {
			continue
		}
		if c, err := x509.ParseCertificate(b[i : i+4+n]); err == nil {
			out = append(out, c)
			i += 3 + n
		}
	}
	return out
}
