package webeid

import (
	"crypto/x509"
	"encoding/asn1"
)

// Attribute types of X.520 that crypto/x509/pkix does not name.
var (
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
)

// SubjectIdentity returns the person named in an eID certificate's subject.
// On Belgian eID certificates serialNumber is the holder's national
// register number (11 digits); other issuers put other identifiers there,
// so callers should not assume the format. Missing attributes are returned
// as "".
func SubjectIdentity(cert *x509.Certificate) (givenName, surname, serialNumber string) {
	if cert == nil {
		return "", "", ""
	}
	for _, atv := range cert.Subject.Names {
		s, ok := atv.Value.(string)
		if !ok {
			continue
		}
		switch {
		case atv.Type.Equal(oidGivenName):
			givenName = s
		case atv.Type.Equal(oidSurname):
			surname = s
		}
	}
	return givenName, surname, cert.Subject.SerialNumber
}
