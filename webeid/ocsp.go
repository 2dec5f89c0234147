package webeid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/cardbridge/cardbridge/internal/ocspwire"
)

// Revocation checking defaults.
const (
	// DefaultOCSPTimeout bounds one OCSP exchange (connect, send, read).
	DefaultOCSPTimeout = 5 * time.Second
	// DefaultOCSPClockSkew is how far the responder's clock may be from
	// the portal's.
	DefaultOCSPClockSkew = 2 * time.Minute
	// DefaultOCSPMaxAge is how old a response without nextUpdate may be.
	DefaultOCSPMaxAge = 15 * time.Minute
	// DefaultOCSPCacheSize is how many responses are kept.
	DefaultOCSPCacheSize = 256
	// DefaultOCSPCacheTTL is the longest a response is reused, whatever
	// its nextUpdate says, so that a revocation reaches the portal within
	// minutes even from a responder that pre-signs responses for days.
	DefaultOCSPCacheTTL = 5 * time.Minute
)

// maxOCSPResponseSize bounds what is read from a responder. A response
// with an embedded responder certificate is 2 to 4 KB.
const maxOCSPResponseSize = 64 << 10

// RevocationConfig configures the OCSP checks of the authentication and
// signing certificates. The zero value checks every certificate against
// the responder its Authority Information Access extension names, with the
// defaults above, and refuses the certificate when no valid answer comes
// (fail closed).
type RevocationConfig struct {
	// Disabled turns revocation checking off: a revoked card then logs in
	// and signs. It is the only way to skip the check, meant for tests
	// and for portals that check revocation by other means; say so in the
	// portal's logs when it is set.
	Disabled bool
	// Responders are designated OCSP responders. A certificate whose
	// issuer one of them serves is checked there instead of at its AIA
	// responder.
	Responders []OCSPResponder
	// Client sends the requests; nil means an http.Client that does not
	// follow redirects. Its own timeout, if any, applies besides Timeout.
	Client *http.Client
	// Timeout bounds one OCSP exchange; zero means DefaultOCSPTimeout.
	// The context passed to Validate or VerifyCertificate bounds it too.
	Timeout time.Duration
	// ClockSkew is the tolerance on thisUpdate and nextUpdate; zero means
	// DefaultOCSPClockSkew.
	ClockSkew time.Duration
	// MaxAge bounds the age of a response that has no nextUpdate; zero
	// means DefaultOCSPMaxAge.
	MaxAge time.Duration
	// CacheSize is the number of responses kept; zero means
	// DefaultOCSPCacheSize, negative disables the cache.
	CacheSize int
	// CacheTTL caps how long a response is reused; zero means
	// DefaultOCSPCacheTTL. A response is never reused past its nextUpdate.
	CacheTTL time.Duration
}

// OCSPResponder is a designated OCSP responder: one the portal names
// itself, rather than the certificate.
type OCSPResponder struct {
	// URL is where requests are POSTed (http or https).
	URL string
	// Certificate is the responder's certificate, trusted as configured
	// (it need not chain to Config.Roots). Unless it is the issuer's own
	// certificate it must carry the OCSP-signing extended key usage.
	// Responses must be signed with its key.
	Certificate *x509.Certificate
	// Issuers are the CA certificates whose certificates this responder
	// answers for; empty means all.
	Issuers []*x509.Certificate
	// RequireNonce refuses responses that do not echo the request's
	// nonce. Without it a nonce is still sent, and checked when echoed.
	RequireNonce bool
}

// ocspChecker asks OCSP responders about certificates. It is safe for
// concurrent use.
type ocspChecker struct {
	responders []OCSPResponder
	client     *http.Client
	now        func() time.Time
	timeout    time.Duration
	skew       time.Duration
	maxAge     time.Duration
	cacheTTL   time.Duration
	cache      *ocspCache // nil: no cache
}

func newOCSPChecker(cfg RevocationConfig, now func() time.Time) (*ocspChecker, error) {
	c := &ocspChecker{
		client:   cfg.Client,
		now:      now,
		timeout:  orDefault(cfg.Timeout, DefaultOCSPTimeout),
		skew:     orDefault(cfg.ClockSkew, DefaultOCSPClockSkew),
		maxAge:   orDefault(cfg.MaxAge, DefaultOCSPMaxAge),
		cacheTTL: orDefault(cfg.CacheTTL, DefaultOCSPCacheTTL),
	}
	if c.timeout < 0 || c.skew < 0 || c.maxAge < 0 || c.cacheTTL < 0 {
		return nil, errors.New("webeid: negative duration in Config.Revocation")
	}
	for i, r := range cfg.Responders {
		if err := checkResponderURL(r.URL); err != nil {
			return nil, fmt.Errorf("webeid: Config.Revocation.Responders[%d]: %w", i, err)
		}
		if r.Certificate == nil {
			return nil, fmt.Errorf("webeid: Config.Revocation.Responders[%d]: Certificate is required", i)
		}
		c.responders = append(c.responders, r)
	}
	if c.client == nil {
		c.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	switch n := cfg.CacheSize; {
	case n == 0:
		c.cache = newOCSPCache(DefaultOCSPCacheSize)
	case n > 0:
		c.cache = newOCSPCache(n)
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func checkResponderURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("OCSP responder %q is not an http or https URL", s)
	}
	return nil
}

// responderFor picks the designated responder for issuer, or else the
// first http(s) responder in cert's AIA.
func (c *ocspChecker) responderFor(cert, issuer *x509.Certificate) (url string, designated *OCSPResponder) {
	for i := range c.responders {
		r := &c.responders[i]
		if len(r.Issuers) == 0 {
			return r.URL, r
		}
		for _, is := range r.Issuers {
			if is.Equal(issuer) {
				return r.URL, r
			}
		}
	}
	for _, u := range cert.OCSPServer {
		if checkResponderURL(u) == nil {
			return u, nil
		}
	}
	return "", nil
}

// check establishes the status of cert, issued by issuer. It returns nil
// for a good certificate, a *CertificateError wrapping a *RevokedError for
// a revoked one, and an *OCSPError when the status cannot be established.
//
// cert has passed the offline checks, so the AIA URL it names is its
// CA's, not a forger's: a forged token cannot make the portal send
// requests where it likes.
func (c *ocspChecker) check(ctx context.Context, cert, issuer *x509.Certificate) error {
	url, designated := c.responderFor(cert, issuer)
	if url == "" {
		return &OCSPError{Reason: "the certificate names no OCSP responder and none is configured for its issuer"}
	}
	key := string(issuer.RawSubjectPublicKeyInfo) + "\x00" + cert.SerialNumber.String()
	if c.cache != nil {
		if st, ok := c.cache.get(key, c.now()); ok {
			return st.err(cert)
		}
	}
	id, err := ocspwire.NewCertID(cert, issuer, crypto.SHA1)
	if err != nil {
		return &OCSPError{URL: url, Reason: "cannot name the certificate", Err: err}
	}
	nonce := make([]byte, ocspwire.MaxNonceSize)
	rand.Read(nonce) // never fails (crypto/rand since Go 1.24)
	nonceExt, err := ocspwire.NonceExtension(nonce)
	if err != nil {
		return &OCSPError{URL: url, Reason: "cannot build the request", Err: err}
	}
	req, err := ocspwire.MarshalRequest(id, nonceExt)
	if err != nil {
		return &OCSPError{URL: url, Reason: "cannot build the request", Err: err}
	}
	body, err := c.exchange(ctx, url, req)
	if err != nil {
		return err
	}
	st, err := c.verify(body, cert, issuer, designated, nonceExt, url)
	if err != nil {
		return err
	}
	if c.cache != nil {
		c.cache.put(key, st)
	}
	return st.err(cert)
}

// exchange POSTs the request (RFC 6960 Appendix A.1) within the timeout.
func (c *ocspChecker) exchange(ctx context.Context, url string, req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, &OCSPError{URL: url, Reason: "bad responder URL", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	resp, err := c.client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return nil, &OCSPError{URL: url, Reason: "responder unreachable", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &OCSPError{URL: url, Reason: "responder answered HTTP " + resp.Status}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOCSPResponseSize+1))
	if err != nil {
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return nil, &OCSPError{URL: url, Reason: "reading the response", Err: err}
	}
	if len(body) > maxOCSPResponseSize {
		return nil, &OCSPError{URL: url, Reason: fmt.Sprintf("response larger than %d bytes", maxOCSPResponseSize)}
	}
	return body, nil
}

// ocspStatus is an accepted answer, kept in the cache until expires.
type ocspStatus struct {
	status    int // ocsp.Good or ocsp.Revoked
	revokedAt time.Time
	reason    int
	expires   time.Time
}

func (s ocspStatus) err(cert *x509.Certificate) error {
	if s.status == ocsp.Good {
		return nil
	}
	return &CertificateError{Reason: "revoked", Err: &RevokedError{SerialNumber: cert.SerialNumber, RevokedAt: s.revokedAt, Reason: s.reason}}
}

// verify accepts a response only if it is signed by the issuer or by a
// responder the issuer (or the portal) authorised, names exactly this
// certificate of this issuer, is fresh, and echoes the nonce if it has
// one.
func (c *ocspChecker) verify(der []byte, cert, issuer *x509.Certificate, designated *OCSPResponder, nonceExt []byte, url string) (ocspStatus, error) {
	fail := func(reason string, err error) (ocspStatus, error) {
		return ocspStatus{}, &OCSPError{URL: url, Reason: reason, Err: err}
	}
	// With a nil issuer the library checks only that an embedded
	// certificate made the signature; who may sign is decided below.
	r, err := ocsp.ParseResponseForCert(der, cert, nil)
	if err != nil {
		var re ocsp.ResponseError
		if errors.As(err, &re) {
			return fail("responder answered "+re.Status.String(), nil)
		}
		return fail("malformed response or none for this certificate", err)
	}
	now := c.now()
	if err := c.checkSigner(r, issuer, designated, now); err != nil {
		return fail("response signed by an unauthorised key", err)
	}
	info, err := ocspwire.ParseResponseInfo(der)
	if err != nil {
		return fail("malformed response", err)
	}
	// The library picked the first single response with the serial;
	// that one must also name this issuer.
	var matched bool
	for _, id := range info.CertIDs {
		if id.SerialNumber != nil && id.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			matched = id.Matches(cert, issuer)
			break
		}
	}
	if !matched {
		return fail("response is about another certificate (issuer hashes differ)", nil)
	}
	switch {
	case info.NonceExt != nil && !bytes.Equal(info.NonceExt, nonceExt):
		return fail("response carries another request's nonce (replayed?)", nil)
	case info.NonceExt == nil && designated != nil && designated.RequireNonce:
		return fail("response has no nonce and the responder is configured to send one", nil)
	}
	if r.ThisUpdate.After(now.Add(c.skew)) {
		return fail(fmt.Sprintf("response not yet valid (thisUpdate %s)", r.ThisUpdate.UTC().Format(time.RFC3339)), nil)
	}
	expires := r.NextUpdate
	if expires.IsZero() {
		expires = r.ThisUpdate.Add(c.maxAge)
	} else if expires.Before(r.ThisUpdate) {
		return fail("nextUpdate before thisUpdate", nil)
	}
	if now.After(expires.Add(c.skew)) {
		return fail(fmt.Sprintf("stale response (thisUpdate %s, valid until %s)", r.ThisUpdate.UTC().Format(time.RFC3339), expires.UTC().Format(time.RFC3339)), nil)
	}
	keep := now.Add(c.cacheTTL)
	if expires.Before(keep) {
		keep = expires
	}
	st := ocspStatus{status: r.Status, revokedAt: r.RevokedAt, reason: r.RevocationReason, expires: keep}
	switch r.Status {
	case ocsp.Good, ocsp.Revoked:
		return st, nil
	}
	return fail("responder does not know the certificate (status unknown)", nil)
}

// checkSigner decides whether the key that signed r may speak for issuer:
// the issuer itself, a delegated responder certificate the issuer signed
// for the purpose (RFC 6960 §4.2.2.2), or the designated responder the
// portal configured.
func (c *ocspChecker) checkSigner(r *ocsp.Response, issuer *x509.Certificate, designated *OCSPResponder, now time.Time) error {
	if designated != nil {
		d := designated.Certificate
		if r.Certificate != nil && !r.Certificate.Equal(d) {
			return errors.New("signed by a certificate other than the designated responder's")
		}
		if err := r.CheckSignatureFrom(d); err != nil {
			return err
		}
		if d.Equal(issuer) {
			return nil
		}
		return c.checkResponderCert(d, now)
	}
	if r.Certificate == nil || r.Certificate.Equal(issuer) {
		return r.CheckSignatureFrom(issuer)
	}
	rc := r.Certificate
	if !bytes.Equal(rc.RawIssuer, issuer.RawSubject) {
		return errors.New("the embedded responder certificate is not issued by the certificate's issuer")
	}
	if err := rc.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("the embedded responder certificate is not signed by the issuer: %w", err)
	}
	if err := c.checkResponderCert(rc, now); err != nil {
		return err
	}
	return r.CheckSignatureFrom(rc)
}

// checkResponderCert requires the OCSP-signing extended key usage and a
// current validity period.
func (c *ocspChecker) checkResponderCert(rc *x509.Certificate, now time.Time) error {
	var ocspSigning bool
	for _, u := range rc.ExtKeyUsage {
		ocspSigning = ocspSigning || u == x509.ExtKeyUsageOCSPSigning
	}
	if !ocspSigning {
		return errors.New("the responder certificate lacks the OCSP-signing extended key usage")
	}
	if now.Add(c.skew).Before(rc.NotBefore) || now.Add(-c.skew).After(rc.NotAfter) {
		return errors.New("the responder certificate is outside its validity period")
	}
	return nil
}
