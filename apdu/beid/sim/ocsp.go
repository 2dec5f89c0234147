package sim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/cardbridge/cardbridge/internal/ocspwire"
)

// OCSPValidity is the span between a response's thisUpdate and
// nextUpdate: how long a portal may reuse it.
const OCSPValidity = 10 * time.Minute

// maxOCSPRequest bounds a request body; a real one is about 100 bytes.
const maxOCSPRequest = 4 << 10

// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): a delegated responder's own
// certificate is not checked with OCSP.
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// OCSPResponder is the test PKI's OCSP responder (RFC 6960), an
// http.Handler answering POSTed requests and the GET form of Appendix A.1
// about certificates of the citizen CA. It signs every response, echoes
// the request's nonce, and reports "revoked" for the certificates passed
// to Revoke, "good" for the CA's other certificates and "unknown" for
// certificates of another issuer. It is safe for concurrent use.
type OCSPResponder struct {
	ca     *x509.Certificate
	cert   *x509.Certificate // signs the responses: the CA or a delegated responder
	key    crypto.Signer
	embed  bool // include cert in responses (a delegated responder must)
	mu     sync.Mutex
	now    func() time.Time
	revoke map[string]time.Time // serial (hex) -> revocation time
	count  int
}

// OCSPResponder returns a responder whose answers the citizen CA signs
// itself.
func (p *PKI) OCSPResponder() *OCSPResponder {
	return &OCSPResponder{ca: p.CA, cert: p.CA, key: p.CAKey, now: time.Now, revoke: map[string]time.Time{}}
}

// DelegatedOCSPResponder returns a responder with a certificate of its own,
// issued by the citizen CA with the OCSP-signing extended key usage, as
// large CAs (Belgium's among them) run theirs. Its key is P-256 whatever
// the profile: it is not a card key.
func (p *PKI) DelegatedOCSPResponder() (*OCSPResponder, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim: OCSP responder key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:         pkix.Name{Country: []string{"BE"}, CommonName: "Test OCSP Responder (cardbridge)"},
		NotBefore:       caNotBefore,
		NotAfter:        caNotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: asn1.NullBytes}},
	}
	cert, err := issue(tmpl, p.CA, key.Public(), p.CAKey)
	if err != nil {
		return nil, fmt.Errorf("sim: OCSP responder certificate: %w", err)
	}
	return &OCSPResponder{ca: p.CA, cert: cert, key: key, embed: true, now: time.Now, revoke: map[string]time.Time{}}, nil
}

// Certificate returns the certificate whose key signs the responses: the
// citizen CA's, or the delegated responder's.
func (r *OCSPResponder) Certificate() *x509.Certificate { return r.cert }

// SetClock sets the clock the responses are dated by; nil means time.Now.
func (r *OCSPResponder) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	r.mu.Lock()
	r.now = now
	r.mu.Unlock()
}

// Revoke marks certificates revoked from now on.
func (r *OCSPResponder) Revoke(certs ...*x509.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range certs {
		if _, ok := r.revoke[c.SerialNumber.Text(16)]; !ok {
			r.revoke[c.SerialNumber.Text(16)] = r.now()
		}
	}
}

// Unrevoke makes certificates good again, as the end of a suspension
// does on Belgian cards.
func (r *OCSPResponder) Unrevoke(certs ...*x509.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range certs {
		delete(r.revoke, c.SerialNumber.Text(16))
	}
}

// Requests returns how many requests the responder answered.
func (r *OCSPResponder) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// ServeHTTP answers one OCSP request.
func (r *OCSPResponder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var der []byte
	switch req.Method {
	case http.MethodPost:
		b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxOCSPRequest))
		if err != nil {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		der = b
	case http.MethodGet:
		// GET {url}/{url-encoding of base64 of the DER request}
		last := req.URL.EscapedPath()[strings.LastIndexByte(req.URL.EscapedPath(), '/')+1:]
		s, err := url.PathUnescape(last)
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(s)
		}
		if err != nil {
			r.write(w, ocsp.MalformedRequestErrorResponse)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	resp, err := r.Respond(der)
	if err != nil {
		r.write(w, ocsp.MalformedRequestErrorResponse)
		return
	}
	r.write(w, resp)
}

func (r *OCSPResponder) write(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// Respond answers a DER request with a DER response, as ServeHTTP does.
func (r *OCSPResponder) Respond(der []byte) ([]byte, error) {
	req, err := ocspwire.ParseRequest(der)
	if err != nil {
		return nil, err
	}
	if n := len(req.NonceExt); n > ocspwire.MaxNonceSize+2 {
		return nil, fmt.Errorf("sim: OCSP nonce extension of %d bytes", n)
	}
	id := req.CertIDs[0]
	r.mu.Lock()
	now := r.now()
	at, revoked := r.revoke[id.SerialNumber.Text(16)]
	r.count++
	r.mu.Unlock()

	t := ocspwire.ResponseTemplate{
		CertID:     id,
		Status:     ocspwire.Good,
		ThisUpdate: now,
		NextUpdate: now.Add(OCSPValidity),
		ProducedAt: now,
		NonceExt:   req.NonceExt,
	}
	probe := &x509.Certificate{SerialNumber: id.SerialNumber}
	switch {
	case !id.Matches(probe, r.ca):
		t.Status = ocspwire.Unknown
	case revoked:
		t.Status, t.RevokedAt = ocspwire.Revoked, at
	}
	return ocspwire.CreateResponse(t, r.cert, r.key, r.embed)
}
