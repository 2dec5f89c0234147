package sim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// PKI is a private test hierarchy that stands in for the Belgian one
// (facts §8): a root, a citizen CA under it that issues the cards'
// authentication and signature certificates, and an RRN certificate, also
// under the root, whose key signs the identity and address files.
//
// The citizen key pair (AuthKey, SignKey) lives in the PKI rather than in a
// card so that tests can make many cards from one PKI without generating
// RSA keys each time; each card gets its own certificates for those keys,
// issued for its person. Nothing here is secret: the keys are test keys.
type PKI struct {
	Profile Profile

	Root, CA, RRN          *x509.Certificate
	RootKey, CAKey, RRNKey crypto.Signer

	// AuthKey and SignKey are the card's key 0x82 (authentication) and
	// 0x83 (non-repudiation).
	AuthKey, SignKey crypto.Signer

	// OCSPURL, when set, is written as the OCSP responder (Authority
	// Information Access) of the authentication and signature
	// certificates issued from then on, as real cards name
	// ocsp.eidpki.belgium.be. Set it to where OCSPResponder is served
	// before making cards; it is not saved by WriteDir.
	OCSPURL string
}

// Certificate policies of the test PKI's leaves. They mirror the Belgian
// layout (<root arc>.2 Citizen CA, then .2 authentication, .1 signature;
// see webeid.BelgianEIDPolicies) under the "example" arc 2.999 of ITU-T
// X.660, which no real CA uses: a portal that trusts the test root still
// refuses these leaves unless it accepts these policies too.
var (
	testPolicyAuth = []uint64{2, 999, 56, 1, 1, 2, 2}
	testPolicySign = []uint64{2, 999, 56, 1, 1, 2, 1}
	oidAnyPolicy   = []uint64{2, 5, 29, 32, 0}
)

// AuthenticationPolicy returns the certificate policy of the test PKI's
// authentication certificates.
func AuthenticationPolicy() x509.OID { return mustOID(testPolicyAuth) }

// SignaturePolicy returns the certificate policy of the test PKI's
// signature certificates.
func SignaturePolicy() x509.OID { return mustOID(testPolicySign) }

func mustOID(arcs []uint64) x509.OID {
	oid, err := x509.OIDFromInts(arcs)
	if err != nil {
		panic(err) // only with a malformed constant above
	}
	return oid
}

// Validity of the test CAs. Fixed dates rather than "now" so that every run
// mints the same kind of chain and a card stays valid for years.
var (
	caNotBefore = time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(2045, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// Object identifiers of the subject attributes Belgian citizen certificates
// carry besides CN and C.
var (
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
)

// NewPKI generates a fresh test hierarchy: RSA-2048 keys for ProfileRSA,
// P-384 keys for ProfileECC, and for ProfileRSAECRRN RSA-2048 keys but a
// P-384 RRN key. RSA generation takes a noticeable fraction of a
// second per key, so the five keys are made concurrently.
func NewPKI(profile Profile) (*PKI, error) {
	if !profile.valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownProfile, profile)
	}
	var keys [5]crypto.Signer
	var errs [5]error
	var wg sync.WaitGroup
	for i := range keys {
		kind := profile
		if i == 2 && profile.ecRRN() {
			kind = ProfileECC // the RRN key (keys[2] below)
		}
		wg.Go(func() { keys[i], errs[i] = generateKey(kind) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("sim: generating PKI keys: %w", err)
	}
	p := &PKI{Profile: profile, RootKey: keys[0], CAKey: keys[1], RRNKey: keys[2], AuthKey: keys[3], SignKey: keys[4]}
	if err := p.issueAuthorities(); err != nil {
		return nil, err
	}
	return p, nil
}

func generateKey(profile Profile) (crypto.Signer, error) {
	if profile == ProfileECC {
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

// issueAuthorities mints the root, CA and RRN certificates for the keys
// already in p.
func (p *PKI) issueAuthorities() error {
	root := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"BE"}, CommonName: "Test Belgium Root CA (cardbridge)"},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	var err error
	if p.Root, err = issue(root, root, p.RootKey.Public(), p.RootKey); err != nil {
		return fmt.Errorf("sim: root certificate: %w", err)
	}
	ca := &x509.Certificate{
		Subject: pkix.Name{Country: []string{"BE"}, CommonName: "Test Citizen CA (cardbridge)",
			SerialNumber: "202601"},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// As the 2020 Citizen CA under Belgium Root CA6: anyPolicy, so
		// the leaf's own policy is what a portal checks.
		Policies: []x509.OID{mustOID(oidAnyPolicy)},
	}
	if p.CA, err = issue(ca, p.Root, p.CAKey.Public(), p.RootKey); err != nil {
		return fmt.Errorf("sim: citizen CA certificate: %w", err)
	}
	rrn := &x509.Certificate{
		Subject: pkix.Name{Country: []string{"BE"}, Organization: []string{"RRN"},
			CommonName: "Test RRN (cardbridge)"},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	if p.RRN, err = issue(rrn, p.Root, p.RRNKey.Public(), p.RootKey); err != nil {
		return fmt.Errorf("sim: RRN certificate: %w", err)
	}
	return nil
}

// Roots returns a pool holding only the test root, for x509.VerifyOptions.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root)
	return pool
}

// Intermediates returns a pool holding the citizen CA.
func (p *PKI) Intermediates() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// check reports whether p is complete and its keys match profile.
func (p *PKI) check(profile Profile) error {
	if p.Root == nil || p.CA == nil || p.RRN == nil || p.RootKey == nil || p.CAKey == nil ||
		p.RRNKey == nil || p.AuthKey == nil || p.SignKey == nil {
		return fmt.Errorf("%w: missing certificate or key", ErrPKIMismatch)
	}
	for _, k := range []crypto.Signer{p.RootKey, p.CAKey, p.AuthKey, p.SignKey} {
		if err := keyFits(k, profile); err != nil {
			return err
		}
	}
	rrnKind := profile
	if profile.ecRRN() {
		rrnKind = ProfileECC
	}
	if err := keyFits(p.RRNKey, rrnKind); err != nil {
		return err
	}
	return nil
}

// keyFits checks that the card keys have the kind and size the profile's
// applet has: RSA-2048 on 1.7, P-384 on 1.8.
func keyFits(k crypto.Signer, profile Profile) error {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if profile != ProfileECC && k.N.BitLen() == 2048 {
			return nil
		}
	case *ecdsa.PrivateKey:
		if profile == ProfileECC && k.Curve == elliptic.P384() {
			return nil
		}
	}
	return fmt.Errorf("%w: %T key does not fit profile %v", ErrPKIMismatch, k, profile)
}

// citizenCerts issues the authentication and signature certificates of a
// card for its holder.
func (p *PKI) citizenCerts(id *Person, notBefore, notAfter time.Time) (auth, sign *x509.Certificate, err error) {
	first := id.Identity.GivenNames
	for i, r := range first {
		if r == ' ' {
			first = first[:i]
			break
		}
	}
	cn := id.Identity.Surname
	if first != "" {
		cn = first + " " + cn
	}
	subject := func(role string) pkix.Name {
		n := pkix.Name{
			Country:      []string{"BE"},
			CommonName:   cn + " (" + role + ")",
			SerialNumber: id.Identity.NationalNumber,
			ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidSurname, Value: id.Identity.Surname}},
		}
		if id.Identity.GivenNames != "" {
			n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidGivenName, Value: id.Identity.GivenNames})
		}
		return n
	}
	var ocsp []string
	if p.OCSPURL != "" {
		ocsp = []string{p.OCSPURL}
	}
	authTmpl := &x509.Certificate{
		Subject:     subject("Authentication"),
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
		Policies:    []x509.OID{AuthenticationPolicy()},
		OCSPServer:  ocsp,
	}
	if auth, err = issue(authTmpl, p.CA, p.AuthKey.Public(), p.CAKey); err != nil {
		return nil, nil, fmt.Errorf("sim: authentication certificate: %w", err)
	}
	signTmpl := &x509.Certificate{
		Subject:    subject("Signature"),
		NotBefore:  notBefore,
		NotAfter:   notAfter,
		KeyUsage:   x509.KeyUsageContentCommitment,
		Policies:   []x509.OID{SignaturePolicy()},
		OCSPServer: ocsp,
	}
	if sign, err = issue(signTmpl, p.CA, p.SignKey.Public(), p.CAKey); err != nil {
		return nil, nil, fmt.Errorf("sim: signature certificate: %w", err)
	}
	return auth, sign, nil
}

// issue signs tmpl with parentKey under parent and parses the result back,
// so that callers hold a certificate exactly as a verifier will see it.
func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1)) // never zero
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Files written by WriteDir and read by LoadPKI.
const (
	pkiRootFile = "root.pem"
	pkiCAFile   = "ca.pem"
	pkiRRNFile  = "rrn.pem"
	pkiKeysFile = "keys.pem" // every private key, for LoadPKI; mode 0600
)

// WriteDir writes the root, CA and RRN certificates as root.pem, ca.pem and
// rrn.pem into dir (created if needed), so that a portal can trust the test
// root, and all private keys into keys.pem so that LoadPKI can bring the
// same hierarchy back on the next run.
func (p *PKI) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	for name, c := range map[string]*x509.Certificate{pkiRootFile: p.Root, pkiCAFile: p.CA, pkiRRNFile: p.RRN} {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
	}
	var keys []byte
	for _, k := range p.namedKeys() {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return fmt.Errorf("sim: encoding %s key: %w", k.name, err)
		}
		keys = append(keys, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Role": k.name}, Bytes: der})...)
	}
	// os.WriteFile would keep the mode of a keys.pem already there, so the
	// keys go to a fresh private file (CreateTemp makes it 0600) that then
	// replaces the old one.
	f, err := os.CreateTemp(dir, pkiKeysFile+".*")
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	_, werr := f.Write(keys)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), filepath.Join(dir, pkiKeysFile))
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("sim: writing %s: %w", pkiKeysFile, werr)
	}
	return nil
}

type namedKey struct {
	name string
	key  crypto.Signer
}

func (p *PKI) namedKeys() []namedKey {
	return []namedKey{{"root", p.RootKey}, {"ca", p.CAKey}, {"rrn", p.RRNKey}, {"auth", p.AuthKey}, {"sign", p.SignKey}}
}

// LoadPKI reads a hierarchy written by WriteDir. It fails with an error
// matching fs.ErrNotExist when dir holds none, and with ErrPKIMismatch when
// the files do not form a usable hierarchy.
func LoadPKI(dir string) (*PKI, error) {
	p := &PKI{}
	for name, dst := range map[string]**x509.Certificate{pkiRootFile: &p.Root, pkiCAFile: &p.CA, pkiRRNFile: &p.RRN} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: %s holds no certificate", ErrPKIMismatch, name)
		}
		if *dst, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrPKIMismatch, name, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, pkiKeysFile))
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	byRole := map[string]*crypto.Signer{"root": &p.RootKey, "ca": &p.CAKey, "rrn": &p.RRNKey, "auth": &p.AuthKey, "sign": &p.SignKey}
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		dst, ok := byRole[blk.Headers["Role"]]
		if !ok || blk.Type != "PRIVATE KEY" {
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s key: %w", ErrPKIMismatch, blk.Headers["Role"], err)
		}
		if *dst, ok = k.(crypto.Signer); !ok {
			return nil, fmt.Errorf("%w: %s key is a %T", ErrPKIMismatch, blk.Headers["Role"], k)
		}
	}
	_, ecRoot := p.RootKey.(*ecdsa.PrivateKey)
	_, ecRRN := p.RRNKey.(*ecdsa.PrivateKey)
	switch {
	case ecRoot:
		p.Profile = ProfileECC
	case ecRRN:
		p.Profile = ProfileRSAECRRN
	default:
		p.Profile = ProfileRSA
	}
	if err := p.check(p.Profile); err != nil {
		return nil, err
	}
	// A keys.pem from another hierarchy would yield a card whose files do
	// not verify; refuse it here rather than confuse a portal later.
	for _, pair := range []struct {
		c *x509.Certificate
		k crypto.Signer
	}{{p.Root, p.RootKey}, {p.CA, p.CAKey}, {p.RRN, p.RRNKey}} {
		if !publicKeysEqual(pair.c.PublicKey, pair.k.Public()) {
			return nil, fmt.Errorf("%w: key does not match %q", ErrPKIMismatch, pair.c.Subject.CommonName)
		}
	}
	return p, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
