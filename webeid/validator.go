package webeid

import (
	"context"
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
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NonceTTL is how long a nonce from NewNonce stays valid;
	// zero means DefaultNonceTTL.
	NonceTTL time.Duration
	// Nonces stores issued nonces; nil means a MemoryNonceStore holding
	// DefaultMaxNonces entries.
	Nonces NonceStore
}

// Validator issues challenge nonces and validates authentication tokens and
// signing certificates. It is safe for concurrent use.
type Validator struct {
	origin        string
	roots         *x509.CertPool
	intermediates *x509.CertPool
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
		v.nonces = NewMemoryNonceStore(DefaultMaxNonces, v.now)
	}
	return v, nil
}

// Origin returns the canonical origin tokens are checked against.
func (v *Validator) Origin() string { return v.origin }

// NewNonce issues a fresh challenge nonce (NonceBytes random bytes,
// standard base64, 44 characters) and records it in the nonce store. The
// portal hands it to the page, which passes it to the daemon's authenticate
// method; the portal should also tie it to the browser session so that it
// validates the token against the nonce it gave that session.
func (v *Validator) NewNonce(ctx context.Context) (string, error) {
	n, err := newNonce()
	if err != nil {
		return "", fmt.Errorf("webeid: generating nonce: %w", err)
	}
	if err := v.nonces.Issue(ctx, n, v.now().Add(v.ttl)); err != nil {
		return "", fmt.Errorf("webeid: storing nonce: %w", err)
	}
	return n, nil
}

// Validate checks an authentication token against the nonce the portal
// issued for this session and returns the authenticated user's
// certificate. In order:
//
//  1. the nonce is consumed from the store, whatever happens next: one
//     nonce, one attempt (ErrNonceUnknown, ErrNonceReplayed,
//     ErrNonceExpired);
//  2. the format is web-eid:1 and every field is present and decodes
//     (ErrFormat);
//  3. the algorithm is one of ES256/384/512, RS256/384/512, PS256/384/512
//     (ErrAlgorithm);
//  4. the certificate chains to Roots, is valid now, has the digital
//     signature key usage and, if it lists extended key usages, client
//     authentication (ErrCertificate), and the algorithm fits its key
//     (ErrAlgorithm);
//  5. the signature verifies over hash(origin) ‖ hash(nonce)
//     (ErrSignature).
//
// The origin is not a field of the token: a token signed for any other
// origin fails step 5.
func (v *Validator) Validate(ctx context.Context, token *AuthToken, nonce string) (*x509.Certificate, error) {
	if nonce == "" {
		return nil, ErrNonceUnknown
	}
	expires, err := v.nonces.Consume(ctx, nonce)
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
	if !formatSupported(token.Format) {
		return nil, errorf(ErrFormat, "format %q is not %s", token.Format, FormatV1)
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &CertificateError{Reason: "cannot parse", Err: err}
	}
	if err := v.verifyChain(cert, PurposeAuthentication); err != nil {
		return nil, err
	}
	if err := verifyAlgorithm(cert, token.Algorithm, SignedValue(alg.hash, v.origin, nonce), sig); err != nil {
		return nil, err
	}
	return cert, nil
}

// Purpose is what a certificate is checked for by VerifyChain.
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

// VerifyChain checks that cert chains to the Validator's roots (through its
// intermediates), is valid at the Validator's current time and may be used
// for purpose. Errors match ErrCertificate.
func (v *Validator) VerifyChain(cert *x509.Certificate, purpose Purpose) error {
	if cert == nil {
		return &CertificateError{Reason: "no certificate"}
	}
	return v.verifyChain(cert, purpose)
}

func (v *Validator) verifyChain(cert *x509.Certificate, purpose Purpose) error {
	opts := x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: v.intermediates,
		CurrentTime:   v.now(),
	}
	switch purpose {
	case PurposeAuthentication:
		if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return &CertificateError{Reason: "key usage lacks digital signature"}
		}
		// Go treats a certificate without EKU as unrestricted, so this
		// accepts leaves without EKU (as Web eID does) and rejects leaves,
		// or CAs, that restrict themselves to other purposes.
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case PurposeSigning:
		if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
			return &CertificateError{Reason: "key usage lacks non-repudiation"}
		}
		// Signing certificates carry EKUs such as e-mail protection, or
		// none; the key usage bit above is what marks them.
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	default:
		return &CertificateError{Reason: "unknown purpose " + purpose.String()}
	}
	if _, err := cert.Verify(opts); err != nil {
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
		return &CertificateError{Reason: reason, Err: err}
	}
	return nil
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
