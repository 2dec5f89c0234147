// Package ocspwire holds the parts of OCSP (RFC 6960) that
// golang.org/x/crypto/ocsp leaves out and that both the portal-side
// validator (webeid) and the simulator's test responder need: requests
// that carry a nonce, the nonce in a response's responseExtensions, the
// CertID of each single response, and building a response with
// responseExtensions. Everything else (parsing a response's status and
// times, checking its signature) is left to golang.org/x/crypto/ocsp.
//
// The types mirror the ASN.1 of RFC 6960 §4.1.1 and §4.2.1 and are
// encoded by encoding/asn1.
package ocspwire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	_ "crypto/sha1" // certID hashes and response signatures
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Object identifiers (RFC 6960 §4.2.1, §4.4.1; RFC 8954).
var (
	oidBasicResponse = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidNonce         = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
)

// Hash algorithm identifiers usable in a CertID (RFC 5280 / NIST).
var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:   {1, 3, 14, 3, 2, 26},
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// MaxNonceSize is the longest nonce RFC 8954 §2.1 allows (32 octets).
const MaxNonceSize = 32

type certIDASN1 struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	KeyHash       []byte
	SerialNumber  *big.Int
}

// CertID names a certificate in OCSP: hashes of its issuer's name and
// public key, and its serial number.
type CertID struct {
	Hash         crypto.Hash
	NameHash     []byte
	KeyHash      []byte
	SerialNumber *big.Int
}

// NewCertID computes the CertID of cert, issued by issuer, with hash.
func NewCertID(cert, issuer *x509.Certificate, hash crypto.Hash) (CertID, error) {
	if _, ok := hashOIDs[hash]; !ok || !hash.Available() {
		return CertID{}, fmt.Errorf("ocspwire: hash %v not usable in a CertID", hash)
	}
	key, err := publicKeyBits(issuer)
	if err != nil {
		return CertID{}, err
	}
	return CertID{Hash: hash, NameHash: digest(hash, issuer.RawSubject), KeyHash: digest(hash, key), SerialNumber: cert.SerialNumber}, nil
}

// Matches reports whether id names cert as issued by issuer, whatever hash
// id uses.
func (id CertID) Matches(cert, issuer *x509.Certificate) bool {
	want, err := NewCertID(cert, issuer, id.Hash)
	if err != nil || id.SerialNumber == nil {
		return false
	}
	return id.SerialNumber.Cmp(want.SerialNumber) == 0 && bytes.Equal(id.NameHash, want.NameHash) && bytes.Equal(id.KeyHash, want.KeyHash)
}

func (id CertID) asn1() (certIDASN1, error) {
	oid, ok := hashOIDs[id.Hash]
	if !ok {
		return certIDASN1{}, fmt.Errorf("ocspwire: hash %v not usable in a CertID", id.Hash)
	}
	return certIDASN1{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue},
		NameHash:      id.NameHash, KeyHash: id.KeyHash, SerialNumber: id.SerialNumber,
	}, nil
}

func (c certIDASN1) certID() CertID {
	id := CertID{NameHash: c.NameHash, KeyHash: c.KeyHash, SerialNumber: c.SerialNumber}
	for h, oid := range hashOIDs {
		if c.HashAlgorithm.Algorithm.Equal(oid) {
			id.Hash = h
		}
	}
	return id
}

// publicKeyBits returns the subjectPublicKey BIT STRING contents of cert,
// which is what an OCSP key hash covers (RFC 6960 §4.1.1).
func publicKeyBits(cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) > 0 {
		return nil, errors.New("ocspwire: malformed subject public key info")
	}
	return spki.PublicKey.RightAlign(), nil
}

func digest(h crypto.Hash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

type requestASN1 struct {
	TBS tbsRequestASN1
}

type tbsRequestASN1 struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []singleRequestASN1
	Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type singleRequestASN1 struct {
	CertID     certIDASN1
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

// NonceExtension returns the extnValue of an OCSP nonce extension holding
// nonce: the DER of an OCTET STRING, as RFC 8954 §2.1 specifies.
func NonceExtension(nonce []byte) ([]byte, error) {
	if len(nonce) == 0 || len(nonce) > MaxNonceSize {
		return nil, fmt.Errorf("ocspwire: nonce of %d bytes (1 to %d)", len(nonce), MaxNonceSize)
	}
	return asn1.Marshal(nonce)
}

// MarshalRequest encodes an unsigned request for id. nonceExt, the
// extnValue from NonceExtension, is sent as a requestExtension unless nil.
func MarshalRequest(id CertID, nonceExt []byte) ([]byte, error) {
	c, err := id.asn1()
	if err != nil {
		return nil, err
	}
	req := requestASN1{TBS: tbsRequestASN1{RequestList: []singleRequestASN1{{CertID: c}}}}
	if nonceExt != nil {
		req.TBS.Extensions = []pkix.Extension{{Id: oidNonce, Value: nonceExt}}
	}
	return asn1.Marshal(req)
}

// Request is a parsed OCSP request.
type Request struct {
	CertIDs []CertID
	// NonceExt is the extnValue of the nonce extension, nil when the
	// request has none.
	NonceExt []byte
}

// ParseRequest decodes a request. A signature, if present, is ignored (the
// test responder does not require signed requests).
func ParseRequest(der []byte) (*Request, error) {
	var raw struct {
		TBS       tbsRequestASN1
		Signature asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, fmt.Errorf("ocspwire: request: %w", err)
	}
	if len(rest) > 0 || len(raw.TBS.RequestList) == 0 {
		return nil, errors.New("ocspwire: request has trailing data or no certificate")
	}
	r := &Request{}
	for _, s := range raw.TBS.RequestList {
		r.CertIDs = append(r.CertIDs, s.CertID.certID())
	}
	r.NonceExt = findExtension(raw.TBS.Extensions, oidNonce)
	return r, nil
}

func findExtension(exts []pkix.Extension, oid asn1.ObjectIdentifier) []byte {
	for _, e := range exts {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	return nil
}

type responseASN1 struct {
	Status asn1.Enumerated
	Bytes  responseBytesASN1 `asn1:"explicit,tag:0,optional"`
}

type responseBytesASN1 struct {
	Type     asn1.ObjectIdentifier
	Response []byte
}

type basicResponseASN1 struct {
	TBS          responseDataASN1
	Algorithm    pkix.AlgorithmIdentifier
	Signature    asn1.BitString
	Certificates []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseDataASN1 struct {
	Version     int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleResponseASN1
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type singleResponseASN1 struct {
	CertID     certIDASN1
	Status     asn1.RawValue
	ThisUpdate time.Time        `asn1:"generalized"`
	NextUpdate time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	Extensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// ResponseInfo is what ParseResponseInfo reads from a successful basic
// response, besides what golang.org/x/crypto/ocsp reports.
type ResponseInfo struct {
	// CertIDs of the single responses, in order.
	CertIDs []CertID
	// NonceExt is the extnValue of the nonce in responseExtensions, nil
	// when there is none.
	NonceExt []byte
}

// ParseResponseInfo reads the CertIDs and the nonce of a basic response.
// It does not check the signature: golang.org/x/crypto/ocsp does that.
func ParseResponseInfo(der []byte) (*ResponseInfo, error) {
	var resp responseASN1
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) > 0 {
		return nil, errors.New("ocspwire: malformed response")
	}
	if resp.Status != 0 || !resp.Bytes.Type.Equal(oidBasicResponse) {
		return nil, errors.New("ocspwire: not a successful basic response")
	}
	var basic basicResponseASN1
	if rest, err := asn1.Unmarshal(resp.Bytes.Response, &basic); err != nil || len(rest) > 0 {
		return nil, errors.New("ocspwire: malformed basic response")
	}
	info := &ResponseInfo{NonceExt: findExtension(basic.TBS.Extensions, oidNonce)}
	for _, s := range basic.TBS.Responses {
		info.CertIDs = append(info.CertIDs, s.CertID.certID())
	}
	return info, nil
}

// Certificate statuses, numbered as in golang.org/x/crypto/ocsp.
const (
	Good    = 0
	Revoked = 1
	Unknown = 2
)

// ResponseTemplate describes one single response to build.
type ResponseTemplate struct {
	CertID     CertID
	Status     int // Good, Revoked or Unknown
	RevokedAt  time.Time
	Reason     int // CRLReason, RFC 5280 §5.3.1
	ThisUpdate time.Time
	NextUpdate time.Time // zero: omitted
	ProducedAt time.Time
	// NonceExt is echoed in responseExtensions unless nil.
	NonceExt []byte
}

// CreateResponse builds a successful basic response signed by signer,
// whose certificate signerCert is named as responder (by key hash) and,
// when embed is set, included in the response.
func CreateResponse(t ResponseTemplate, signerCert *x509.Certificate, signer crypto.Signer, embed bool) ([]byte, error) {
	c, err := t.CertID.asn1()
	if err != nil {
		return nil, err
	}
	status, err := statusASN1(t)
	if err != nil {
		return nil, err
	}
	keyBits, err := publicKeyBits(signerCert)
	if err != nil {
		return nil, err
	}
	keyHash, err := asn1.Marshal(digest(crypto.SHA1, keyBits))
	if err != nil {
		return nil, err
	}
	data := responseDataASN1{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: keyHash},
		ProducedAt:  t.ProducedAt.UTC().Truncate(time.Second),
		Responses: []singleResponseASN1{{
			CertID:     c,
			Status:     status,
			ThisUpdate: t.ThisUpdate.UTC().Truncate(time.Second),
			NextUpdate: t.NextUpdate.UTC().Truncate(time.Second),
		}},
	}
	if t.NextUpdate.IsZero() {
		data.Responses[0].NextUpdate = time.Time{}
	}
	if t.NonceExt != nil {
		data.Extensions = []pkix.Extension{{Id: oidNonce, Value: t.NonceExt}}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, err
	}
	alg, hash, err := signatureAlgorithm(signer.Public())
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, digest(hash, tbs), hash)
	if err != nil {
		return nil, err
	}
	// DER is deterministic: data encodes again to the bytes just signed.
	basic := basicResponseASN1{TBS: data, Algorithm: alg, Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}}
	if embed {
		basic.Certificates = []asn1.RawValue{{FullBytes: signerCert.Raw}}
	}
	basicDER, err := asn1.Marshal(basic)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(responseASN1{Status: 0, Bytes: responseBytesASN1{Type: oidBasicResponse, Response: basicDER}})
}

// statusASN1 encodes the CertStatus CHOICE (RFC 6960 §4.2.1): good [0]
// and unknown [2] are IMPLICIT NULL, revoked [1] an IMPLICIT RevokedInfo.
func statusASN1(t ResponseTemplate) (asn1.RawValue, error) {
	switch t.Status {
	case Good:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0}, nil
	case Unknown:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2}, nil
	case Revoked:
		info := struct {
			RevokedAt time.Time       `asn1:"generalized"`
			Reason    asn1.Enumerated `asn1:"explicit,tag:0,optional"`
		}{t.RevokedAt.UTC().Truncate(time.Second), asn1.Enumerated(t.Reason)}
		der, err := asn1.Marshal(info)
		if err != nil {
			return asn1.RawValue{}, err
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			return asn1.RawValue{}, err
		}
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: seq.Bytes}, nil
	}
	return asn1.RawValue{}, fmt.Errorf("ocspwire: unknown status %d", t.Status)
}

// signatureAlgorithm picks the signature algorithm for a responder key:
// ECDSA with the hash that fits the curve (RFC 5758 §3.2), RSA PKCS #1
// v1.5 with SHA-256 (RFC 4055 §5, NULL parameters).
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, crypto.SHA256, nil
		case elliptic.P384():
			return pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}}, crypto.SHA384, nil
		}
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}, crypto.SHA256, nil
	}
	return pkix.AlgorithmIdentifier{}, 0, fmt.Errorf("ocspwire: responder key %T not supported", pub)
}
