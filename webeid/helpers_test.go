package webeid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// testNow is the fixed "now" of every test: inside the validity of the
// test certificates unless a test says otherwise.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const testOrigin = "https://portal.example"

// Keys are generated once per test binary: RSA generation is slow enough
// to matter on a 2-core machine.
var (
	keysOnce           sync.Once
	keyP384, keyP256   *ecdsa.PrivateKey
	keyRSA             *rsa.PrivateKey
	keyRootA, keyRootB *ecdsa.PrivateKey
	keyCAA             *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		must := func(k *ecdsa.PrivateKey, err error) *ecdsa.PrivateKey {
			if err != nil {
				panic(err)
			}
			return k
		}
		keyP384 = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
		keyP256 = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		keyRootA = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
		keyRootB = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
		keyCAA = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
		var err error
		if keyRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
}

// testPKI is a root and an intermediate CA, like Belgium Root CA and
// Citizen CA.
type testPKI struct {
	root, ca       *x509.Certificate
	rootKey, caKey *ecdsa.PrivateKey
	roots, inter   *x509.CertPool
	ocspURL        string // AIA of the leaves issued from then on
}

// serveOCSP starts the simulator's OCSP responder for this CA on a
// loopback port, dated by c, and names it in the leaves issued from then
// on.
func (p *testPKI) serveOCSP(t testing.TB, c *clock) *sim.OCSPResponder {
	t.Helper()
	r := (&sim.PKI{CA: p.ca, CAKey: p.caKey}).OCSPResponder()
	r.SetClock(c.Now)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	p.ocspURL = srv.URL + "/ocsp"
	return r
}

var serial int64

func nextSerial() *big.Int {
	serial++
	return big.NewInt(serial)
}

func newTestPKI(t testing.TB, rootKey, caKey *ecdsa.PrivateKey) *testPKI {
	t.Helper()
	rootTmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Country: []string{"BE"}, CommonName: "Test Root CA"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	root := createCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	caTmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Country: []string{"BE"}, CommonName: "Test Citizen CA"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	ca := createCert(t, caTmpl, root, caKey.Public(), rootKey)
	p := &testPKI{root: root, ca: ca, rootKey: rootKey, caKey: caKey, roots: x509.NewCertPool(), inter: x509.NewCertPool()}
	p.roots.AddCert(root)
	p.inter.AddCert(ca)
	return p
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

// leafOpts tweak a leaf certificate; the zero value gives a valid Belgian
// style authentication certificate.
type leafOpts struct {
	keyUsage  x509.KeyUsage
	extUsage  []x509.ExtKeyUsage
	notBefore time.Time
	notAfter  time.Time
	noEKU     bool
	// policies replace the Belgian policy that fits keyUsage; noPolicy
	// leaves the extension out.
	policies []x509.OID
	noPolicy bool
	// noOCSP leaves the AIA OCSP URL out.
	noOCSP bool
	// subject replaces the default subject.
	subject *pkix.Name
}

// Belgian Root CA4 citizen policies (see BelgianEIDPolicies).
var (
	policyAuth = mustOID([]uint64{2, 16, 56, 12, 1, 1, 2, 2})
	policySign = mustOID([]uint64{2, 16, 56, 12, 1, 1, 2, 1})
)

func (p *testPKI) leaf(t testing.TB, pub crypto.PublicKey, o leafOpts) *x509.Certificate {
	t.Helper()
	if o.keyUsage == 0 {
		o.keyUsage = x509.KeyUsageDigitalSignature
	}
	if o.extUsage == nil && !o.noEKU {
		o.extUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.policies == nil && !o.noPolicy {
		o.policies = []x509.OID{policyAuth}
		if o.keyUsage&x509.KeyUsageContentCommitment != 0 {
			o.policies = []x509.OID{policySign}
		}
	}
	role := "Authentication"
	if o.keyUsage&x509.KeyUsageContentCommitment != 0 {
		role = "Signature"
	}
	subject := specimenSubject(role)
	if o.subject != nil {
		subject = *o.subject
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      subject,
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     o.keyUsage,
		ExtKeyUsage:  o.extUsage,
		Policies:     o.policies,
	}
	if p.ocspURL != "" && !o.noOCSP {
		tmpl.OCSPServer = []string{p.ocspURL}
	}
	return createCert(t, tmpl, p.ca, pub, p.caKey)
}

// specimenSubject is the subject of a Belgian specimen card's certificate
// for role ("Authentication" or "Signature").
func specimenSubject(role string) pkix.Name {
	return pkix.Name{
		Country:      []string{"BE"},
		CommonName:   "Alice Specimen (" + role + ")",
		SerialNumber: "85073100123",
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: "Specimen"},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "Alice Geldig"},
		},
	}
}

// signRaw signs msg the way the daemon does for algorithm alg: hash msg
// with the algorithm's hash, then ECDSA (r||s), PKCS #1 v1.5 or PSS.
func signRaw(t testing.TB, key crypto.Signer, alg string, msg []byte) []byte {
	t.Helper()
	h := algorithms[alg].hash
	if h == 0 {
		h = crypto.SHA256 // unsupported names still get some signature
	}
	d := h.New()
	d.Write(msg)
	digest := d.Sum(nil)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*n)
		r.FillBytes(out[:n])
		s.FillBytes(out[n:])
		return out
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if algorithms[alg].pss {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("unsupported key %T", key)
	return nil
}

// makeToken builds a token as the daemon would for origin and nonce.
func makeToken(t testing.TB, key crypto.Signer, cert *x509.Certificate, alg, origin, nonce string) *AuthToken {
	t.Helper()
	h := algorithms[alg].hash
	if h == 0 {
		h = crypto.SHA256
	}
	return &AuthToken{
		UnverifiedCertificate: base64.StdEncoding.EncodeToString(cert.Raw),
		Algorithm:             alg,
		Signature:             base64.StdEncoding.EncodeToString(signRaw(t, key, alg, SignedValue(h, origin, nonce))),
		Format:                "web-eid:1",
		AppVersion:            "https://cardbridge.invalid/releases/0.1.0",
	}
}

// toDER re-encodes a raw r||s signature as an ASN.1 SEQUENCE, the form
// crypto/ecdsa and OpenSSL use and that must be refused.
func toDER(t testing.TB, raw []byte) []byte {
	t.Helper()
	n := len(raw) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
