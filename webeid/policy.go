package webeid

import (
	"crypto/x509"
	"slices"
)

// Policies are the certificate policies (RFC 5280 §4.2.1.4) a leaf must
// assert, at least one of, to be accepted for each purpose. A policy
// identifier is how a CA says "this certificate was issued under these
// rules, to this kind of holder, for this use"; checking it keeps a
// certificate that merely chains to the same root (an organisation's,
// a test card's, one for another use) from passing as a citizen's.
type Policies struct {
	// Authentication lists the policies accepted on authentication
	// certificates (login tokens). Empty means the Belgian eID defaults.
	Authentication []x509.OID
	// Signing lists the policies accepted on signing certificates.
	// Empty means the Belgian eID defaults.
	Signing []x509.OID
}

// Belgian eID policy identifiers. Each Belgian root generation has its own
// arc 2.16.56.<r>.1.1 (Belgium's country arc 2.16.56): the arc is the
// policy the root certificates themselves carry (Belgium Root CA2
// 2.16.56.9.1.1, CA3 2.16.56.10.1.1, CA4 2.16.56.12.1.1, as read from the
// certificates in shared/real-cards/belgian-roots, which
// TestBelgianPoliciesMatchRealCertificates checks), and the first eID
// root's is 2.16.56.1.1.1. Under it, .2 is the Citizen CA and .7 the
// Foreigner CA (the OIDs of their Certificate Practice Statements: Citizen
// CA CPS 2.16.56.1.1.1.2.x; Foreigner CA CP/CPS v4.7 of 2021, which names
// 2.16.56.1.1.1.7, 2.16.56.9.1.1.7, 2.16.56.10.1.1.7 and 2.16.56.12.1.1.7;
// both published at repository.eid.belgium.be), and the last arc is the
// certificate's use: .2 authentication, .1 non-repudiation (signature).
// The Citizen and Foreigner CAs of 2020 under Belgium Root CA6 assert
// anyPolicy, so they restrict nothing and the leaf's own policy decides;
// the 2021 Foreigner CPS, published after those CAs, lists no further
// arc.
var belgianRootArcs = [][]uint64{
	{2, 16, 56, 1, 1, 1},  // Belgium Root CA
	{2, 16, 56, 9, 1, 1},  // Belgium Root CA2
	{2, 16, 56, 10, 1, 1}, // Belgium Root CA3
	{2, 16, 56, 12, 1, 1}, // Belgium Root CA4
}

const (
	belgianCitizen   = 2 // Citizen CA
	belgianForeigner = 7 // Foreigner CA
	belgianAuth      = 2 // authentication certificate
	belgianSign      = 1 // signature (non-repudiation) certificate
)

// BelgianEIDPolicies returns the policies of Belgian eID citizen and
// foreigner cards, for every root generation: what a Validator accepts
// when Config.Policies is left empty.
func BelgianEIDPolicies() Policies {
	var p Policies
	for _, arc := range belgianRootArcs {
		for _, holder := range []uint64{belgianCitizen, belgianForeigner} {
			p.Authentication = append(p.Authentication, mustOID(append(slices.Clone(arc), holder, belgianAuth)))
			p.Signing = append(p.Signing, mustOID(append(slices.Clone(arc), holder, belgianSign)))
		}
	}
	return p
}

func mustOID(arcs []uint64) x509.OID {
	oid, err := x509.OIDFromInts(arcs)
	if err != nil {
		panic(err) // only reached with a malformed constant above
	}
	return oid
}

// withDefaults fills empty lists with the Belgian defaults and copies the
// rest, so later changes to the caller's slices do not reach the Validator.
func (p Policies) withDefaults() Policies {
	def := BelgianEIDPolicies()
	out := Policies{Authentication: slices.Clone(p.Authentication), Signing: slices.Clone(p.Signing)}
	if len(out.Authentication) == 0 {
		out.Authentication = def.Authentication
	}
	if len(out.Signing) == 0 {
		out.Signing = def.Signing
	}
	return out
}

// check reports whether cert asserts one of the policies for purpose.
func (p Policies) check(cert *x509.Certificate, purpose Purpose) error {
	accepted := p.Authentication
	if purpose == PurposeSigning {
		accepted = p.Signing
	}
	for _, have := range cert.Policies {
		for _, want := range accepted {
			if have.Equal(want) {
				return nil
			}
		}
	}
	return &CertificateError{Reason: "no accepted " + purpose.String() + " certificate policy", Err: ErrPolicy}
}
