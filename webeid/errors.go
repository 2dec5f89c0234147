package webeid

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by Validate, VerifySignature and
// VerifyChain matches exactly one of ErrFormat, ErrAlgorithm, ErrCertificate,
// ErrSignature or ErrNonce with errors.Is; the nonce errors additionally
// match the more precise ErrNonceUnknown, ErrNonceExpired or
// ErrNonceReplayed.
var (
	// ErrFormat: the token is not a web-eid:1 token, a field is missing, or
	// a field is not valid base64 or DER.
	ErrFormat = errors.New("webeid: malformed or unsupported token")
	// ErrAlgorithm: the algorithm is not supported, or does not fit the
	// certificate's key (an ES384 signature claimed for an RSA key, a P-256
	// key claiming ES384, a hash the key cannot be used with).
	ErrAlgorithm = errors.New("webeid: unsupported or inconsistent signature algorithm")
	// ErrCertificate: the certificate cannot be parsed, does not chain to a
	// trusted root, is outside its validity period, or may not be used for
	// the purpose. A *CertificateError carries the detail and unwraps to
	// the crypto/x509 error where there is one.
	ErrCertificate = errors.New("webeid: certificate rejected")
	// ErrSignature: the signature does not verify. For an authentication
	// token this is also what a token made for another origin or another
	// nonce gives: both are bound only through the signed value.
	ErrSignature = errors.New("webeid: signature verification failed")

	// ErrNonce is matched by every challenge-nonce failure.
	ErrNonce = errors.New("webeid: challenge nonce rejected")
	// ErrNonceUnknown: the nonce was never issued by this store, or was
	// forgotten (evicted) since.
	ErrNonceUnknown error = &nonceError{"webeid: unknown challenge nonce"}
	// ErrNonceExpired: the nonce was issued but its time to live ran out.
	ErrNonceExpired error = &nonceError{"webeid: challenge nonce expired"}
	// ErrNonceReplayed: the nonce was already used by an earlier validation.
	ErrNonceReplayed error = &nonceError{"webeid: challenge nonce already used"}
)

// nonceError lets the three precise nonce errors also match ErrNonce, so a
// portal that only cares "was it the nonce?" needs one check.
type nonceError struct{ msg string }

func (e *nonceError) Error() string        { return e.msg }
func (e *nonceError) Is(target error) bool { return target == ErrNonce }

// CertificateError describes why a certificate was rejected. It matches
// ErrCertificate and unwraps to the underlying error (for example an
// x509.CertificateInvalidError with Reason x509.Expired, or an
// x509.UnknownAuthorityError), so callers can use errors.As on either.
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

// errorf wraps a sentinel with detail while keeping errors.Is working.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
