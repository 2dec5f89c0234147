package webeid

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Sentinel errors. Every error returned by Validate, VerifyCertificate and
// VerifySignature matches exactly one of ErrFormat, ErrAlgorithm,
// ErrCertificate, ErrSignature, ErrNonce or ErrRevocationUnavailable with
// errors.Is; some additionally match a more precise sentinel (the nonce
// errors, ErrTokenVersion, ErrRevoked, ErrPolicy).
var (
	// ErrFormat: the token is not a web-eid:1 token, a field is missing, or
	// a field is not valid base64 or DER.
	ErrFormat = errors.New("webeid: malformed or unsupported token")
	// ErrTokenVersion: the token's format is not "web-eid:1" or
	// "web-eid:1.<minor>" (a 2.x token, or garbage). It also matches
	// ErrFormat.
	ErrTokenVersion error = &subError{"webeid: unsupported token format version", ErrFormat}
	// ErrAlgorithm: the algorithm is not supported, or does not fit the
	// certificate's key (an ES384 signature claimed for an RSA key, a P-256
	// key claiming ES384, a hash the key cannot be used with).
	ErrAlgorithm = errors.New("webeid: unsupported or inconsistent signature algorithm")
	// ErrCertificate: the certificate cannot be parsed, does not chain to a
	// trusted root, is outside its validity period, may not be used for
	// the purpose, is under no accepted policy, or is revoked. A
	// *CertificateError carries the detail and unwraps to the crypto/x509
	// error, ErrPolicy or a *RevokedError where there is one.
	ErrCertificate = errors.New("webeid: certificate rejected")
	// ErrPolicy: the certificate asserts none of the accepted certificate
	// policies (Config.Policies). It also matches ErrCertificate.
	ErrPolicy error = &subError{"webeid: certificate policy not accepted", ErrCertificate}
	// ErrRevoked: the certificate's issuer says, in a valid OCSP
	// response, that it is revoked. It also matches ErrCertificate; a
	// *RevokedError carries the time and reason.
	ErrRevoked error = &subError{"webeid: certificate revoked", ErrCertificate}
	// ErrRevocationUnavailable: the revocation status could not be
	// established, so the certificate is refused (fail closed): the
	// responder could not be reached in time, answered with an error or
	// "unknown", or its answer was not acceptable (bad signature, other
	// certificate, stale, wrong nonce). An *OCSPError carries the detail.
	// A portal typically answers this with "try again later", not "your
	// card is not accepted".
	ErrRevocationUnavailable = errors.New("webeid: certificate revocation status unavailable")
	// ErrSignature: the signature does not verify. For an authentication
	// token this is also what a token made for another origin or another
	// nonce gives: both are bound only through the signed value.
	ErrSignature = errors.New("webeid: signature verification failed")

	// ErrNonce is matched by every challenge-nonce failure.
	ErrNonce = errors.New("webeid: challenge nonce rejected")
	// ErrNonceUnknown: the nonce was never issued by this store to this
	// session, or was forgotten since.
	ErrNonceUnknown error = &subError{"webeid: unknown challenge nonce", ErrNonce}
	// ErrNonceExpired: the nonce was issued but its time to live ran out.
	ErrNonceExpired error = &subError{"webeid: challenge nonce expired", ErrNonce}
	// ErrNonceReplayed: the nonce was already used by an earlier validation.
	ErrNonceReplayed error = &subError{"webeid: challenge nonce already used", ErrNonce}

	// ErrNonceStoreFull is returned by NewNonce (not by Validate) when the
	// store holds as many live nonces as it may. The store never makes
	// room by forgetting another session's live nonce; a portal answers
	// this with "busy, try again" (and should rate-limit whoever asks for
	// that many nonces).
	ErrNonceStoreFull = errors.New("webeid: too many outstanding challenge nonces")
)

// subError is a sentinel that also matches a broader one, so a portal that
// only cares "was it the nonce?" or "was it the certificate?" needs one
// check.
type subError struct {
	msg    string
	parent error
}

func (e *subError) Error() string        { return e.msg }
func (e *subError) Is(target error) bool { return target == e.parent }

// CertificateError describes why a certificate was rejected. It matches
// ErrCertificate and unwraps to the underlying error (for example an
// x509.CertificateInvalidError with Reason x509.Expired, an
// x509.UnknownAuthorityError, ErrPolicy or a *RevokedError), so callers
// can use errors.Is and errors.As on either.
type CertificateError struct {
	Reason string // short English text, e.g. "not trusted", "wrong key usage"
	Err    error  // underlying cause, may be nil
}

func (e *CertificateError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("webeid: certificate rejected: %s: %v", e.Reason, e.Err)
	}
	return "webeid: certificate rejected: " + e.Reason
}

func (e *CertificateError) Unwrap() error        { return e.Err }
func (e *CertificateError) Is(target error) bool { return target == ErrCertificate }

// RevokedError is a revocation reported by a valid OCSP response. It
// matches ErrRevoked (and so ErrCertificate).
type RevokedError struct {
	SerialNumber *big.Int
	RevokedAt    time.Time
	// Reason is the CRLReason code of RFC 5280 §5.3.1 (0 unspecified,
	// 1 keyCompromise, ...), as golang.org/x/crypto/ocsp reports it.
	Reason int
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("webeid: certificate %x revoked at %s (reason %d)", e.SerialNumber, e.RevokedAt.UTC().Format(time.RFC3339), e.Reason)
}

func (e *RevokedError) Is(target error) bool { return target == ErrRevoked || target == ErrCertificate }

// OCSPError says why the revocation status of a certificate could not be
// established. It matches ErrRevocationUnavailable and unwraps to the
// cause (for example context.DeadlineExceeded for a responder that did not
// answer in time).
type OCSPError struct {
	URL    string // the responder asked, "" when none could be found
	Reason string // short English text, e.g. "response signed by an unauthorised key"
	Err    error  // underlying cause, may be nil
}

func (e *OCSPError) Error() string {
	s := "webeid: revocation status unavailable: " + e.Reason
	if e.URL != "" {
		s += " (" + e.URL + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *OCSPError) Unwrap() error        { return e.Err }
func (e *OCSPError) Is(target error) bool { return target == ErrRevocationUnavailable }

// errorf wraps a sentinel with detail while keeping errors.Is working.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
