package webeid

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
)

// maxSignatureAlgorithms bounds the list a signing certificate comes
// with: every hash times every padding is 24.
const maxSignatureAlgorithms = 24

// parseSigningCertificates decodes the signing certificates of a 1.1 token
// and checks their algorithm lists (ErrFormat, ErrAlgorithm).
func parseSigningCertificates(in []SigningCertificate) ([]VerifiedSigningCertificate, error) {
	out := make([]VerifiedSigningCertificate, 0, len(in))
	for i, sc := range in {
		field := fmt.Sprintf("unverifiedSigningCertificates[%d]", i)
		der, err := decodeBase64(field+".certificate", sc.Certificate)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &CertificateError{Reason: "cannot parse the signing certificate", Err: err}
		}
		algs := sc.SupportedSignatureAlgorithms
		if len(algs) == 0 || len(algs) > maxSignatureAlgorithms {
			return nil, errorf(ErrFormat, "%s.supportedSignatureAlgorithms must list 1 to %d algorithms", field, maxSignatureAlgorithms)
		}
		for _, a := range algs {
			if err := a.fits(cert); err != nil {
				return nil, err
			}
		}
		out = append(out, VerifiedSigningCertificate{Certificate: cert, SupportedSignatureAlgorithms: slices.Clone(algs)})
	}
	return out, nil
}

// fits checks that a is one Web eID defines and that cert's key can make
// it.
func (a SignatureAlgorithm) fits(cert *x509.Certificate) error {
	paddings, ok := signingPadding[a.CryptoAlgorithm]
	if !ok || !slices.Contains(paddings, a.PaddingScheme) || !slices.Contains(signingHashFunctions, a.HashFunction) {
		return errorf(ErrAlgorithm, "signature algorithm %q/%q/%q is not one Web eID defines",
			truncate(a.CryptoAlgorithm, 10), truncate(a.HashFunction, 10), truncate(a.PaddingScheme, 10))
	}
	switch cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if a.CryptoAlgorithm == "ECC" {
			return nil
		}
	case *rsa.PublicKey:
		if a.CryptoAlgorithm == "RSA" {
			return nil
		}
	}
	return errorf(ErrAlgorithm, "signature algorithm %s does not fit the signing certificate's %T key", a.CryptoAlgorithm, cert.PublicKey)
}

// verifySigningCompanion checks a signing certificate that came with the
// authentication certificate auth: same holder, same issuer, and every
// offline check for signing. It returns the issuer, for OCSP.
func (v *Validator) verifySigningCompanion(auth *x509.Certificate, sc VerifiedSigningCertificate) (*x509.Certificate, error) {
	sign := sc.Certificate
	if !sameHolder(auth, sign) {
		return nil, &CertificateError{Reason: "the signing certificate names another holder than the authentication certificate"}
	}
	if !bytes.Equal(auth.RawIssuer, sign.RawIssuer) ||
		(len(auth.AuthorityKeyId) > 0 && len(sign.AuthorityKeyId) > 0 && !bytes.Equal(auth.AuthorityKeyId, sign.AuthorityKeyId)) {
		return nil, &CertificateError{Reason: "the signing certificate has another issuer than the authentication certificate"}
	}
	return v.verifyOffline(sign, PurposeSigning)
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// Role suffixes of the common names on Belgian eID certificates: the two
// certificates of a card differ only there, e.g. "Alice SPECIMEN
// (Authentication)" and "Alice SPECIMEN (Signature)" on the specimen card
// in shared/real-cards/commons-eid/71715100070.eid.
const (
	roleAuthentication = " (Authentication)"
	roleSignature      = " (Signature)"
)

// sameHolder reports whether two certificates name the same person: the
// subjects are identical (as on most eID cards), or identical except for
// the common name's role suffix (as on Belgian ones). Attribute order and
// types must match exactly.
func sameHolder(auth, sign *x509.Certificate) bool {
	if bytes.Equal(auth.RawSubject, sign.RawSubject) {
		return true
	}
	a, s := auth.Subject.Names, sign.Subject.Names
	if len(a) != len(s) || len(a) == 0 {
		return false
	}
	for i := range a {
		if !a[i].Type.Equal(s[i].Type) {
			return false
		}
		av, aok := a[i].Value.(string)
		sv, sok := s[i].Value.(string)
		if !aok || !sok {
			return false
		}
		if a[i].Type.Equal(oidCommonName) {
			an, ok1 := strings.CutSuffix(av, roleAuthentication)
			sn, ok2 := strings.CutSuffix(sv, roleSignature)
			if ok1 && ok2 && an != "" {
				av, sv = an, sn
			}
		}
		if av != sv {
			return false
		}
	}
	return true
}
