package webeid

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultNonceTTL is how long an issued nonce stays valid when
// Config.NonceTTL is zero. It covers a user who has to find the card and
// type the PIN, and no more.
const DefaultNonceTTL = 5 * time.Minute

// Config configures a Validator.
type Config struct {
	// Origin is the portal's own origin as browsers serialise it, e.g.
	// "https://portal.example" or "https://localhost:8443". It must be
	// https, except for a loopback host (localhost, 127.0.0.1, [::1]),
	// which browsers also treat as a secure context. A default port
	// (":443") is dropped and the host lower-cased, as browsers do.
	Origin string
	// Roots are the trusted root CAs. Required.
	Roots *x509.CertPool
	// Intermediates are CA certificates that may be used to build the chain
	// from the token's certificate (which comes alone) to a root, e.g. the
	// Citizen CA. May be nil when the leaves are issued by a root directly.
	Intermediates *x509.CertPool
	// Policies are the certificate policies a leaf must assert; empty
	// lists mean BelgianEIDPolicies.
	Policies Policies
	// Revocation configures the OCSP checks, which are on by default and
	// fail closed; Revocation.Disabled turns them off.
	Revocation RevocationConfig
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NonceTTL is how long a nonce from NewNonce stays valid;
	// zero means DefaultNonceTTL.
	NonceTTL time.Duration
	// Nonces stores issued nonces; nil means a MemoryNonceStore with the
	// default capacities.
	Nonces NonceStore
}

// Validator issues challenge nonces and validates authentication tokens,
// signing certificates and signatures. It is safe for concurrent use.
type Validator struct {
	origin        string
	roots         *x509.CertPool
	intermediates *x509.CertPool
	policies      Policies
	ocsp          *ocspChecker // nil: revocation checking disabled
	now           func() time.Time
	ttl           time.Duration
	nonces        NonceStore
}

// NewValidator checks cfg and returns a Validator.
func NewValidator(cfg Config) (*Validator, error) {
	origin, err := CanonicalOrigin(cfg.Origin)
	if err != nil {
		return nil, err
	}
	if cfg.Roots == nil {
		return nil, errors.New("webeid: Config.Roots is required")
	}
	v := &Validator{
		origin:        origin,
		roots:         cfg.Roots,
		intermediates: cfg.Intermediates,
		policies:      cfg.Policies.withDefaults(),
		now:           cfg.Now,
		ttl:           cfg.NonceTTL,
		nonces:        cfg.Nonces,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.ttl == 0 {
		v.ttl = DefaultNonceTTL
	}
	if v.ttl < 0 {
		return nil, errors.New("webeid: Config.NonceTTL is negative")
	}
	if v.nonces == nil {
		v.nonces = NewMemoryNonceStore(0, 0, v.now)
	}
	if !cfg.Revocation.Disabled {
		if v.ocsp, err = newOCSPChecker(cfg.Revocation, v.now); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Origin returns the canonical origin tokens are checked against.
func (v *Validator) Origin() string { return v.origin }

// RevocationChecked reports whether certificates are checked with OCSP
// (false only when Config.Revocation.Disabled was set).
func (v *Validator) RevocationChecked() bool { return v.ocsp != nil }

// NewNonce issues a fresh challenge nonce (NonceBytes random bytes,
// standard base64, 44 characters) to session and records it in the nonce
// store. session is the portal's own key for the browser session that
// asked (its session id, never anything the page sends); Validate accepts
// the nonce only for the same session. The portal hands the nonce to the
// page, which passes it to the daemon's authenticate method, and keeps it
// in the session to validate the token against. It fails with
// ErrNonceStoreFull when the store holds its maximum of live nonces.
func (v *Validator) NewNonce(ctx context.Context, session string) (string, error) {
	if session == "" {
		return "", errNoSession
	}
	n, err := newNonce()
	if err != nil {
		return "", fmt.Errorf("webeid: generating nonce: %w", err)
	}
	if err := v.nonces.Issue(ctx, session, n, v.now().Add(v.ttl)); err != nil {
		if errors.Is(err, ErrNonceStoreFull) {
			return "", err
		}
		return "", fmt.Errorf("webeid: storing nonce: %w", err)
	}
	return n, nil
}

// Authentication is what Validate established.
type Authentication struct {
	// Certificate is the user's authentication certificate: trusted,
	// under an accepted policy, not revoked, and its key signed the
	// token. SubjectIdentity reads the person from it.
	Certificate *x509.Certificate
	// Algorithm is the token's JWS algorithm, e.g. "ES384".
	Algorithm string
	// Format is the token's format, e.g. "web-eid:1.1".
	Format string
	// SigningCertificates are the signing certificates a 1.1 token
	// carried, each checked like the authentication certificate (chain,
	// key usage, policy, revocation) and for the same holder and issuer;
	// empty for a 1.0 token. A portal can keep them in the session and
	// ask for a signature without first asking for the certificate.
	SigningCertificates []VerifiedSigningCertificate
}

// VerifiedSigningCertificate is a signing certificate that passed Validate.
type VerifiedSigningCertificate struct {
	Certificate                  *x509.Certificate
	SupportedSignatureAlgorithms []SignatureAlgorithm
}

// Validate checks an authentication token against the nonce the portal
// issued to this session and returns who authenticated. In order:
//
//  1. the nonce is consumed from the store, whatever happens next: one
//     nonce, one attempt; it must have been issued to session
//     (ErrNonceUnknown, ErrNonceReplayed, ErrNonceExpired);
//  2. the format is web-eid:1 or a 1.x minor (ErrTokenVersion), every
//     field is present and decodes, and a signing certificate comes with
//     a 1.1 token and not with a 1.0 one (ErrFormat);
//  3. the algorithm is one of ES256/384/512, RS256/384/512, PS256/384/512
//     (ErrAlgorithm);
//  4. the certificate chains to Roots, is valid now, has the digital
//     signature key usage and, if it lists extended key usages, client
//     authentication, and asserts an accepted policy (ErrCertificate,
//     ErrPolicy), and the algorithm fits its key (ErrAlgorithm);
//  5. the signature verifies over hash(origin) ‖ hash(nonce)
//     (ErrSignature);
//  6. each signing certificate names the same holder and issuer as the
//     authentication certificate and passes the checks of step 4 for
//     signing (ErrCertificate), and its algorithms fit its key
//     (ErrAlgorithm);
//  7. OCSP says none of the certificates is revoked (ErrRevoked), or
//     cannot say (ErrRevocationUnavailable), unless revocation checking
//     is disabled. It comes last so that no forged token makes the
//     portal talk to a responder.
//
// The origin is not a field of the token: a token signed for any other
// origin fails step 5.
func (v *Validator) Validate(ctx context.Context, token *AuthToken, session, nonce string) (*Authentication, error) {
	if session == "" || nonce == "" {
		return nil, ErrNonceUnknown
	}
	expires, err := v.nonces.Consume(ctx, session, nonce)
	if err != nil {
		if errors.Is(err, ErrNonce) {
			return nil, err
		}
		return nil, fmt.Errorf("webeid: nonce store: %w", err)
	}
	if !v.now().Before(expires) {
		return nil, ErrNonceExpired
	}

	if token == nil {
		return nil, errorf(ErrFormat, "no token")
	}
	minor, err := formatMinor(token.Format)
	if err != nil {
		return nil, err
	}
	switch n := len(token.UnverifiedSigningCertificates); {
	case minor == 0 && n > 0:
		return nil, errorf(ErrFormat, "unverifiedSigningCertificates is not allowed in format %q", token.Format)
	case minor == 1 && n == 0:
		return nil, errorf(ErrFormat, "unverifiedSigningCertificates is required in format %q", token.Format)
	case n > maxSigningCertificates:
		return nil, errorf(ErrFormat, "%d signing certificates (at most %d)", n, maxSigningCertificates)
	}
	if token.Algorithm == "" {
		return nil, errorf(ErrFormat, "algorithm is missing")
	}
	alg, ok := algorithms[token.Algorithm]
	if !ok {
		return nil, errorf(ErrAlgorithm, "algorithm %q not supported", token.Algorithm)
	}
	der, err := decodeBase64("unverifiedCertificate", token.UnverifiedCertificate)
	if err != nil {
		return nil, err
	}
	sig, err := decodeBase64("signature", token.Signature)
	if err != nil {
		return nil, err
	}
	signing, err := parseSigningCertificates(token.UnverifiedSigningCertificates)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &CertificateError{Reason: "cannot parse", Err: err}
	}
	issuer, err := v.verifyOffline(cert, PurposeAuthentication)
	if err != nil {
		return nil, err
	}
	if err := verifyAlgorithm(cert, token.Algorithm, SignedValue(alg.hash, v.origin, nonce), sig); err != nil {
		return nil, err
	}
	issuers := make([]*x509.Certificate, len(signing))
	for i, sc := range signing {
		if issuers[i], err = v.verifySigningCompanion(cert, sc); err != nil {
			return nil, err
		}
	}
	if err := v.checkRevocation(ctx, cert, issuer); err != nil {
		return nil, err
	}
	for i, sc := range signing {
		if err := v.checkRevocation(ctx, sc.Certificate, issuers[i]); err != nil {
			return nil, err
		}
	}
	return &Authentication{Certificate: cert, Algorithm: token.Algorithm, Format: token.Format, SigningCertificates: signing}, nil
}

// Purpose is what a certificate is checked for by VerifyCertificate.
type Purpose int

const (
	// PurposeAuthentication: key usage digital signature; extended key
	// usage, if present, must include client authentication.
	PurposeAuthentication Purpose = iota + 1
	// PurposeSigning: key usage non-repudiation (content commitment), as
	// on the eID's signature certificate.
	PurposeSigning
)

func (p Purpose) String() string {
	switch p {
	case PurposeAuthentication:
		return "authentication"
	case PurposeSigning:
		return "signing"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// VerifyCertificate checks that cert chains to the Validator's roots
// (through its intermediates), is valid at the Validator's current time,
// may be used for purpose, asserts one of the accepted policies for it
// (ErrCertificate, ErrPolicy), and, unless revocation checking is
// disabled, is not revoked (ErrRevoked, ErrRevocationUnavailable).
func (v *Validator) VerifyCertificate(ctx context.Context, cert *x509.Certificate, purpose Purpose) error {
	if cert == nil {
		return &CertificateError{Reason: "no certificate"}
	}
	issuer, err := v.verifyOffline(cert, purpose)
	if err != nil {
		return err
	}
	return v.checkRevocation(ctx, cert, issuer)
}

// VerifyDocumentSignature checks a signature made with the card's signing
// key over digest, and the certificate: the offline checks of
// VerifyCertificate for PurposeSigning (chain, key usage, policy), then
// the signature itself (see VerifySignature), then, unless disabled, the
// revocation status, so that a revoked card's signature is refused and no
// OCSP request is made for a signature that fails anyway.
func (v *Validator) VerifyDocumentSignature(ctx context.Context, cert *x509.Certificate, hash crypto.Hash, digest, signature []byte) error {
	if cert == nil {
		return &CertificateError{Reason: "no certificate"}
	}
	issuer, err := v.verifyOffline(cert, PurposeSigning)
	if err != nil {
		return err
	}
	if err := VerifySignature(cert, hash, digest, signature); err != nil {
		return err
	}
	return v.checkRevocation(ctx, cert, issuer)
}

// checkRevocation asks OCSP about cert unless checking is disabled.
func (v *Validator) checkRevocation(ctx context.Context, cert, issuer *x509.Certificate) error {
	if v.ocsp == nil {
		return nil
	}
	return v.ocsp.check(ctx, cert, issuer)
}

// verifyOffline does every check that needs no network and returns the
// certificate's issuer, for OCSP.
func (v *Validator) verifyOffline(cert *x509.Certificate, purpose Purpose) (*x509.Certificate, error) {
	opts := x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: v.intermediates,
		CurrentTime:   v.now(),
	}
	switch purpose {
	case PurposeAuthentication:
		if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return nil, &CertificateError{Reason: "key usage lacks digital signature"}
		}
		// Go treats a certificate without EKU as unrestricted, so this
		// accepts leaves without EKU (as Web eID does) and rejects leaves,
		// or CAs, that restrict themselves to other purposes.
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case PurposeSigning:
		if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
			return nil, &CertificateError{Reason: "key usage lacks non-repudiation"}
		}
		// Signing certificates carry EKUs such as e-mail protection, or
		// none; the key usage bit above is what marks them.
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	default:
		return nil, &CertificateError{Reason: "unknown purpose " + purpose.String()}
	}
	chains, err := cert.Verify(opts)
	if err != nil {
		reason := "not trusted"
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) {
			switch inv.Reason {
			case x509.Expired:
				reason = "expired or not yet valid"
			case x509.IncompatibleUsage:
				reason = "wrong extended key usage"
			default:
				reason = "invalid"
			}
		}
		return nil, &CertificateError{Reason: reason, Err: err}
	}
	if len(chains) == 0 || len(chains[0]) < 2 {
		return nil, &CertificateError{Reason: "a trusted root is not a user certificate"}
	}
	if err := v.policies.check(cert, purpose); err != nil {
		return nil, err
	}
	return chains[0][1], nil
}

// CanonicalOrigin checks that s is an origin (scheme, host, optional port;
// no path, query, fragment or user) usable for Web eID and returns it the
// way browsers serialise it: lower-case scheme and host, no default port.
// https is required except on loopback hosts. The host must be ASCII, as
// browsers send it: an internationalised name is written in its punycode
// ("xn--") form, since a Unicode host would never equal the Origin a
// browser puts in the token.
func CanonicalOrigin(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "", fmt.Errorf("webeid: origin %q: control, space or non-ASCII character (write an internationalised host name in its xn-- form)", s)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("webeid: origin %q: %w", s, err)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("webeid: origin %q must be scheme://host[:port] only", s)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	switch scheme {
	case "https":
		if port == "443" {
			port = ""
		}
	case "http":
		if !isLoopbackHost(host) {
			return "", fmt.Errorf("webeid: origin %q: http is only allowed for localhost", s)
		}
		if port == "80" {
			port = ""
		}
	default:
		return "", fmt.Errorf("webeid: origin %q: scheme must be https", s)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
