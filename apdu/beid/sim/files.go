package sim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
)

// File identifiers of the card (facts §3).
const (
	fidMF      = 0x3F00
	fidDIR     = 0x2F00
	fidBelpic  = 0xDF00
	fidID      = 0xDF01
	fidODF     = 0x5031
	fidToken   = 0x5032
	fidAODF    = 0x5034
	fidPrKDF   = 0x5035
	fidCDF     = 0x5037
	fidAuth    = 0x5038
	fidSign    = 0x5039
	fidCA      = 0x503A
	fidRoot    = 0x503B
	fidRRN     = 0x503C
	fidIdent   = 0x4031
	fidIdSig   = 0x4032
	fidAddr    = 0x4033
	fidAddrSig = 0x4034
	fidPhoto   = 0x4035
	fidBasic   = 0x4040
)

// AIDs (facts §2).
var (
	aidApplet = []byte{0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF}
	aidBelpic = []byte{0xA0, 0x00, 0x00, 0x01, 0x77, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35} // "...PKCS-15"
	aidID     = []byte{0xA0, 0x00, 0x00, 0x01, 0x77, 0x49, 0x64, 0x46, 0x69, 0x6C, 0x65, 0x73} // "...IdFiles"
)

// addressFileSize is the size of the address file: its content padded with
// zeros to 117 bytes (facts §3, the 2004 "extended to 117 bytes" change).
const addressFileSize = 117

// rrnECDSASigSize is the fixed size of the 1.8 signature files 4032/4034:
// the longest DER ECDSA P-384 signature (2+2×(2+49) = 104 bytes), shorter
// ones padded with zeros, so that byte[1]+2 gives the real length (facts §3).
const rrnECDSASigSize = 0x68

// rrnRSASigFileSize is the size of the signature files of an applet 1.7
// card, whose RRN key was RSA-2048; ProfileRSAECRRN pads its ECDSA
// signatures to it.
const rrnRSASigFileSize = 256

// node is a file of the card: a DF when isDF, else a transparent EF whose
// content is data. READ BINARY access is ALWAYS on every EF (facts §3).
type node struct {
	fid      uint16
	isDF     bool
	data     []byte
	parent   *node
	children []*node
}

func newDF(fid uint16, children ...*node) *node {
	df := &node{fid: fid, isDF: true, children: children}
	for _, c := range children {
		c.parent = df
	}
	return df
}

func newEF(fid uint16, data []byte) *node { return &node{fid: fid, data: data} }

// child returns the direct child of n with the given FID.
func (n *node) child(fid uint16) *node {
	for _, c := range n.children {
		if c.fid == fid {
			return c
		}
	}
	return nil
}

// contents is everything a card is personalised with.
type contents struct {
	serial    []byte
	photo     []byte
	basicKey  *ecdsa.PrivateKey // applet 1.8 only
	basicPub  []byte            // 4040: SubjectPublicKeyInfo of basicKey
	auth      *x509.Certificate
	sign      *x509.Certificate
	identity  []byte // 4031
	idSig     []byte // 4032
	address   []byte // 4033, padded
	addrSig   []byte // 4034
	person    *Person
	pki       *PKI
	profile   Profile
	mf        *node
	cardData  []byte // GET CARD DATA, P2=00 form
	dfBelpic  *node
	dfID      *node
	certFiles map[uint16][]byte
}

// personalise builds the identity and address files and their RRN
// signatures (facts §4, §8), then the whole file system.
func (k *contents) personalise() error {
	id := &k.person.Identity
	id.ChipNumber = bytes.Clone(k.serial) // tag 02 equals the GET CARD DATA serial
	switch k.profile {
	case ProfileECC:
		h := sha512.Sum384(k.photo)
		id.PhotoHash = h[:]
		b := sha512.Sum384(k.basicPub)
		id.BasicKeyHash = b[:]
	case ProfileRSAECRRN:
		// Real 1.7 cards of 2018 and 2022 carry a SHA-256 photo hash.
		h := sha256.Sum256(k.photo)
		id.PhotoHash = h[:]
		id.BasicKeyHash = nil
	default:
		h := sha1.Sum(k.photo)
		id.PhotoHash = h[:]
		id.BasicKeyHash = nil
	}
	var err error
	if k.identity, err = id.MarshalBinary(); err != nil {
		return fmt.Errorf("%w: identity file: %w", ErrInvalidPerson, err)
	}
	if k.idSig, err = k.rrnSign(k.identity); err != nil {
		return err
	}
	addr, err := k.person.Address.MarshalBinary()
	if err != nil {
		return fmt.Errorf("%w: address file: %w", ErrInvalidPerson, err)
	}
	// SGN#Address covers the address without its padding followed by the
	// whole identity signature file (facts §8).
	if k.addrSig, err = k.rrnSign(append(bytes.Clone(addr), k.idSig...)); err != nil {
		return err
	}
	k.address = addr
	if len(addr) < addressFileSize {
		k.address = append(addr, make([]byte, addressFileSize-len(addr))...)
	}
	k.buildFS()
	return nil
}

// rrnSign signs a file the way the National Register does (facts §8):
// RSA PKCS#1 v1.5 with SHA-256 on the 1.7 profile (a "CA4" style card, see
// facts open uncertainty 4), ECDSA P-384 with SHA-384 as zero-padded DER on
// the 1.8 profile (to 0x68 bytes) and on the 1.7 card with an EC RRN key
// (to 256 bytes).
func (k *contents) rrnSign(msg []byte) ([]byte, error) {
	switch key := k.pki.RRNKey.(type) {
	case *rsa.PrivateKey:
		h := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
		if err != nil {
			return nil, fmt.Errorf("sim: RRN signature: %w", err)
		}
		return sig, nil
	case *ecdsa.PrivateKey:
		h := sha512.Sum384(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		if err != nil {
			return nil, fmt.Errorf("sim: RRN signature: %w", err)
		}
		size := rrnECDSASigSize
		if k.profile != ProfileECC {
			// An applet 1.7 card keeps its 256-byte RSA-sized
			// signature files (the 2022 card of the real data).
			size = rrnRSASigFileSize
		}
		if len(sig) > size {
			return nil, fmt.Errorf("sim: RRN signature of %d bytes", len(sig))
		}
		return append(sig, make([]byte, size-len(sig))...), nil
	}
	return nil, fmt.Errorf("%w: RRN key is a %T", ErrPKIMismatch, k.pki.RRNKey)
}

// certFile is a certificate file: the DER followed by zero padding.
func (k *contents) certFile(c *x509.Certificate) []byte {
	return append(bytes.Clone(c.Raw), make([]byte, k.profile.certPadding())...)
}

// buildFS lays out the file system of facts §3.
func (k *contents) buildFS() {
	k.certFiles = map[uint16][]byte{
		fidAuth: k.certFile(k.auth),
		fidSign: k.certFile(k.sign),
		fidCA:   k.certFile(k.pki.CA),
		fidRoot: k.certFile(k.pki.Root),
		fidRRN:  k.certFile(k.pki.RRN),
	}
	belpic := []*node{
		newEF(fidODF, odf()),
		newEF(fidToken, tokenInfo(k.profile, k.serial)),
		newEF(fidAODF, aodf()),
		newEF(fidPrKDF, prkdf(k.profile)),
		newEF(fidCDF, cdf()),
	}
	for _, fid := range []uint16{fidAuth, fidSign, fidCA, fidRoot, fidRRN} {
		belpic = append(belpic, newEF(fid, k.certFiles[fid]))
	}
	ids := []*node{
		newEF(fidIdent, k.identity),
		newEF(fidIdSig, k.idSig),
		newEF(fidAddr, k.address),
		newEF(fidAddrSig, k.addrSig),
		newEF(fidPhoto, k.photo),
	}
	if k.profile == ProfileECC {
		ids = append(ids, newEF(fidBasic, k.basicPub))
	}
	k.dfBelpic = newDF(fidBelpic, belpic...)
	k.dfID = newDF(fidID, ids...)
	k.mf = newDF(fidMF, newEF(fidDIR, efDIR()), k.dfBelpic, k.dfID)
}

// der encodes one DER element with a definite length.
func der(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func derPath(fid uint16) []byte {
	return der(0x30, der(0x04, []byte{0x3F, 0x00, 0xDF, 0x00, byte(fid >> 8), byte(fid)}))
}

func utf8String(s string) []byte { return der(0x0C, []byte(s)) }

// efDIR is EF(DIR) 2F00: one application template for DF(BELPIC) with its
// AID, label, path and the Belgian eID OID 2.16.56.2 (facts §3).
func efDIR() []byte {
	return der(0x61,
		der(0x4F, aidBelpic),
		der(0x50, []byte("BELPIC")),
		der(0x51, []byte{0x3F, 0x00, 0xDF, 0x00}),
		der(0x73, der(0x06, []byte{0x60, 0x38, 0x02})),
	)
}

// odf points at the private key, certificate and authentication object
// directories (PKCS#15 ODF choices [0], [4] and [8]).
func odf() []byte {
	return bytes.Join([][]byte{
		der(0xA0, derPath(fidPrKDF)),
		der(0xA4, derPath(fidCDF)),
		der(0xA8, derPath(fidAODF)),
	}, nil)
}

// tokenInfo carries the version, the 16-byte card serial (04 10 ...), the
// label "BELPIC", the token flags and, after tag 9E 04, the graphical
// perso, electrical perso, electrical interface versions and an RFU byte
// (facts §7). The flags are those of a real card's TokenInfo (the eID
// viewer file of commons-eid's test data, 71715100070.eid: 03 02 04 30,
// prnGeneration and eidCompliant), as is its 9E 04 for an applet 1.x card
// (04 02 00 00: perso version 02, interface version 00). The 1.8 card has
// perso version 04 (facts §1) and interface version 01.
func tokenInfo(p Profile, serial []byte) []byte {
	versions := []byte{0x04, 0x02, 0x00, 0x00}
	if p == ProfileECC {
		versions = []byte{0x04, 0x04, 0x01, 0x00}
	}
	return der(0x30,
		der(0x02, []byte{0x00}),
		der(0x04, serial),
		der(0x80, []byte("BELPIC")),
		der(0x03, []byte{0x04, 0x30}), // tokenflags: prnGeneration, eidCompliant
		der(0x9E, versions),
	)
}

// aodf describes the one user PIN: reference 01, BCD in a GlobalPlatform
// block, 4..12 digits stored in 8 bytes, padded with FF (facts §5).
func aodf() []byte {
	return der(0x30,
		der(0x30, utf8String("Basic PIN"), der(0x03, []byte{0x06, 0xC0})),
		der(0x30, der(0x04, []byte{0x01})),
		der(0xA1, der(0x30,
			der(0x03, []byte{0x02, 0x0C}),            // pinFlags: local, initialized
			der(0x0A, []byte{0x00}),                  // pinType: bcd
			der(0x02, []byte{0x04}),                  // minLength
			der(0x02, []byte{0x08}),                  // storedLength
			der(0x02, []byte{0x0C}),                  // maxLength
			der(0x80, []byte{0x01}),                  // pinReference
			der(0x04, []byte{0xFF}),                  // padChar
			der(0x30, der(0x04, []byte{0x3F, 0x00})), // path
		)),
	)
}

// prkdf lists the authentication (82) and non-repudiation (83) keys, both
// protected by PIN authId 01: RSA-2048 on 1.7, EC P-384 on 1.8. As on a
// real card (1.8 card content document, PrKDF): the key reference is a
// positive INTEGER (02 02 00 82, where 02 01 82 would read as -126), the
// access flags are sensitive, alwaysSensitive, neverExtractable and local
// (PKCS #15 KeyAccessFlags, 03 02 03 B8), and the signature key carries
// userConsent 1, which tells a PKCS #15 reader (OpenSC: CKA_ALWAYS_
// AUTHENTICATE) that every signature needs its own PIN.
func prkdf(p Profile) []byte {
	dfPath := der(0x30, der(0x04, []byte{0x3F, 0x00, 0xDF, 0x00}))
	accessFlags := der(0x03, []byte{0x03, 0xB8})
	key := func(label string, id, ref byte, usage []byte, consent bool) []byte {
		common := [][]byte{utf8String(label), der(0x03, []byte{0x07, 0x80}), der(0x04, []byte{0x01})} // private, authId 01
		if consent {
			common = append(common, der(0x02, []byte{0x01})) // userConsent
		}
		keyAttrs := der(0x30, der(0x04, []byte{id}), der(0x03, usage), accessFlags, der(0x02, []byte{0x00, ref}))
		if p == ProfileECC {
			return der(0xA0, der(0x30, common...), keyAttrs, der(0xA1, der(0x30, dfPath, der(0x02, []byte{0x01, 0x80}))))
		}
		return der(0x30, der(0x30, common...), keyAttrs, der(0xA1, der(0x30, dfPath, der(0x02, []byte{0x08, 0x00}))))
	}
	return bytes.Join([][]byte{
		key("Authentication", 0x02, keyAuth, []byte{0x05, 0x20}, false), // KeyUsageFlags: sign
		key("Signature", 0x03, keySign, []byte{0x06, 0x00, 0x40}, true), // KeyUsageFlags: nonRepudiation
	}, nil)
}

// cdf lists the five certificate files.
func cdf() []byte {
	var out []byte
	for _, c := range []struct {
		label     string
		id        byte
		fid       uint16
		authority bool
	}{
		{"Authentication", 0x02, fidAuth, false},
		{"Signature", 0x03, fidSign, false},
		{"CA", 0x04, fidCA, true},
		{"Root", 0x06, fidRoot, true},
		{"RRN", 0x08, fidRRN, false},
	} {
		attrs := [][]byte{der(0x04, []byte{c.id})}
		if c.authority {
			attrs = append(attrs, der(0x01, []byte{0xFF}))
		}
		out = append(out, der(0x30,
			der(0x30, utf8String(c.label)),
			der(0x30, attrs...),
			der(0xA1, der(0x30, derPath(c.fid))),
		)...)
	}
	return out
}
