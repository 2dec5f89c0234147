package beid

// Tests on files read from real cards, published by others (see the
// README of the folder): bytes no one in this project wrote. They are read
// where CI puts them, never copied into the repository.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/realcards"
)

// realCardsDir finds the real card data, or skips the test loudly.
func realCardsDir(t *testing.T) string { return realcards.Dir(t) }

func readReal(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "commons-eid", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".txt") { // an identity file in base64
		if b, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

// realIdentity is what each real identity file must read as.
type realIdentity struct {
	birthRaw    string
	birth       Date
	docType     string
	status      string
	duplicate   string
	protection  string
	photoHashSz int
}

var realIdentities = map[string]realIdentity{
	"dateandcountry.tlv":           {"13.AUG. 1996", Date{1996, time.August, 13}, "14", "0", "00", "13.08.2014-IT", 20},
	"duplicate-02.tlv":             {"22.DEZ. 1997", Date{1997, time.December, 22}, "11", "0", "02", "", 20},
	"extended-minority.tlv":        {"29 SEPT 1979", Date{1979, time.September, 29}, "1", "2", "", "", 20},
	"h-card.tlv":                   {"08 MAAR 1980", Date{1980, time.March, 8}, "19", "0", "01", "", 20},
	"id-alice-2.tlv":               {"1 JAN 1971", Date{1971, time.January, 1}, "1", "0", "", "", 20},
	"id-alice.tlv":                 {"01 JAN 1971", Date{1971, time.January, 1}, "1", "0", "", "", 20},
	"id-foreigner.tlv":             {"24 MAAR 1969", Date{1969, time.March, 24}, "16", "0", "00", "", 20},
	"idFile-foreigner.dat":         {"07 SEPT 2003", Date{2003, time.September, 7}, "11", "0", "01", "", 32},
	"new-eid.txt":                  {"26 AVR  1975", Date{1975, time.April, 26}, "01", "0", "", "", 20},
	"old-eid.txt":                  {"21 DEC  1981", Date{1981, time.December, 21}, "1", "0", "", "", 20},
	"test-eid-v17-ec_identity.tlv": {"03 MEI 2001", Date{2001, time.May, 3}, "1", "0", "", "", 32},
	"test-identity.tlv":            {"01 JAN 1971", Date{1971, time.January, 1}, "1", "0", "", "", 20},
	"white-cane.tlv":               {"21 JAN 1971", Date{1971, time.January, 21}, "1", "1", "", "", 20},
	"yellow-cane.tlv":              {"31 DEC 1992", Date{1992, time.December, 31}, "1", "4", "", "", 20},
}

// realSets are the complete card sets whose RRN signatures verify: the
// files of identity, identity signature, address, address signature,
// photo and RRN certificate.
var realSets = map[string][6]string{
	"2010 RSA-1024": {"test-identity.tlv", "test-identity-sign.der", "test-address.tlv", "test-address-sign.der", "test-photo.jpg", "test-rrn-cert.der"},
	"2022 applet 1.7, EC RRN": {"test-eid-v17-ec_identity.tlv", "test-eid-v17-ec_identity-signature.der", "test-eid-v17-ec_address.tlv",
		"test-eid-v17-ec_address-signature.der", "test-eid-v17-ec_photo.jpg", "test-eid-v17-ec_rrn-cert.der"},
}

var realAddresses = map[string]string{ // file: street
	"address-alice.tlv":           "Meirplaats 1 bus 1",
	"address-fcorneli.tlv":        "Elfbunderslaan 76",
	"test-address.tlv":            "Meirplaats 1 bus 1",
	"test-eid-v17-ec_address.tlv": "Specimenstraat 12",
}

// TestRealFilesAllKnown keeps the tests below honest: every file of the
// folder is one of them, so a file added there cannot go untested.
func TestRealFilesAllKnown(t *testing.T) {
	dir := realCardsDir(t)
	known := map[string]bool{"71715100070.eid": true}
	for n := range realIdentities {
		known[n] = true
	}
	for n := range realAddresses {
		known[n] = true
	}
	for _, set := range realSets {
		for _, n := range set {
			known[n] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "commons-eid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			t.Errorf("%s is not covered by a test", e.Name())
		}
	}
	if len(entries) != len(known) {
		t.Errorf("%d files in the folder, %d known", len(entries), len(known))
	}
}

func TestRealIdentityFiles(t *testing.T) {
	dir := realCardsDir(t)
	for name, want := range realIdentities {
		t.Run(name, func(t *testing.T) {
			id, err := ParseIdentity(readReal(t, dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(id.FieldErrors) != 0 {
				t.Errorf("field errors: %v", id.FieldErrors)
			}
			if id.BirthDateRaw != want.birthRaw || id.BirthDate != want.birth {
				t.Errorf("birth date %q = %v, want %q = %v", id.BirthDateRaw, id.BirthDate, want.birthRaw, want.birth)
			}
			if id.DocumentType != want.docType || DocumentTypeName(id.DocumentType) == "" {
				t.Errorf("document type %q (%q), want %q", id.DocumentType, DocumentTypeName(id.DocumentType), want.docType)
			}
			if id.SpecialStatus != want.status || id.Duplicate != want.duplicate || id.ProtectionDateCountry != want.protection {
				t.Errorf("status %q duplicate %q protection %q, want %q %q %q", id.SpecialStatus, id.Duplicate,
					id.ProtectionDateCountry, want.status, want.duplicate, want.protection)
			}
			if len(id.PhotoHash) != want.photoHashSz {
				t.Errorf("photo hash of %d bytes, want %d", len(id.PhotoHash), want.photoHashSz)
			}
			if !validNationalNumber(id.NationalNumber) || id.Surname == "" || id.CardNumber == "" ||
				id.ValidFrom.Day == 0 || id.ValidUntil.Day == 0 || (id.Sex != "M" && id.Sex != "F") {
				t.Errorf("mandatory fields: %+v", id)
			}
			for _, f := range id.stringFields() {
				if *f.s != strings.TrimSpace(*f.s) {
					t.Errorf("tag %02X not trimmed: %q", f.tag, *f.s)
				}
			}
		})
	}
}

func TestRealAddressFiles(t *testing.T) {
	dir := realCardsDir(t)
	for name, street := range realAddresses {
		raw := readReal(t, dir, name)
		a, err := ParseAddress(raw)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if a.Street != street || len(a.ZipCode) != 4 || a.Municipality == "" || len(a.FieldErrors) != 0 {
			t.Errorf("%s: %+v, want street %q", name, a, street)
		}
	}
	// The one with the padded street really is padded: the trim is
	// what removes the spaces.
	if raw := readReal(t, dir, "address-fcorneli.tlv"); !bytes.Contains(raw, []byte("76"+strings.Repeat(" ", 25))) {
		t.Error("address-fcorneli.tlv no longer has the padded street this test is about")
	}
}

func realContents(t *testing.T, dir string, files [6]string) *Contents {
	t.Helper()
	c := &Contents{
		IdentityFile:      readReal(t, dir, files[0]),
		IdentitySignature: readReal(t, dir, files[1]),
		AddressFile:       readReal(t, dir, files[2]),
		AddressSignature:  readReal(t, dir, files[3]),
		Photo:             readReal(t, dir, files[4]),
	}
	var err error
	if c.RRNCert, err = x509.ParseCertificate(readReal(t, dir, files[5])); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkRealSet verifies a complete set: the RRN signatures and the photo
// hash hold, and break when a byte of what they cover changes. The RRN
// certificates of these test cards chain to test roots that are not
// published, so the certificate check is left to TestBelgianRoots.
func checkRealSet(t *testing.T, c *Contents) {
	t.Helper()
	in := VerifyIntegrity(c)
	if in.IdentitySignature != nil || in.AddressSignature != nil || in.PhotoHash != nil || in.BasicKeyHash != nil {
		t.Fatalf("integrity: %+v", in)
	}
	if !errors.Is(in.RRNCertificate, ErrIntegrity) {
		t.Errorf("RRN certificate check without a root: %v", in.RRNCertificate)
	}
	for _, tamper := range []struct {
		name  string
		bytes *[]byte
		check func(Integrity) error
	}{
		{"identity", &c.IdentityFile, func(in Integrity) error { return in.IdentitySignature }},
		{"address", &c.AddressFile, func(in Integrity) error { return in.AddressSignature }},
		{"photo", &c.Photo, func(in Integrity) error { return in.PhotoHash }},
	} {
		orig := *tamper.bytes
		changed := bytes.Clone(orig)
		changed[len(changed)/2] ^= 0x01
		*tamper.bytes = changed
		if err := tamper.check(VerifyIntegrity(c)); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s changed: %v, want ErrIntegrity", tamper.name, err)
		}
		*tamper.bytes = orig
	}
}

func TestRealSetsVerify(t *testing.T) {
	dir := realCardsDir(t)
	for name, files := range realSets {
		t.Run(name, func(t *testing.T) {
			c := realContents(t, dir, files)
			checkRealSet(t, c)
			switch pub := c.RRNCert.PublicKey.(type) {
			case *rsa.PublicKey:
				if pub.Size() != 128 || len(c.IdentitySignature) != 128 {
					t.Errorf("RSA-%d RRN key, %d-byte signature", 8*pub.Size(), len(c.IdentitySignature))
				}
			case *ecdsa.PublicKey:
				// The 1.7 card with an EC RRN key: DER zero-padded
				// to 256 bytes, SHA-256 photo hash.
				if pub.Curve != elliptic.P384() || len(c.IdentitySignature) != 256 || len(c.AddressSignature) != 256 {
					t.Errorf("EC RRN key on %s, signatures of %d and %d bytes", pub.Curve.Params().Name,
						len(c.IdentitySignature), len(c.AddressSignature))
				}
			default:
				t.Errorf("RRN key %T", pub)
			}
		})
	}
}

// TestRealViewerFile reads the eID viewer's whole-card file: one record per
// card file, a tag byte and a length in 7-bit groups (high bit: another
// byte follows), then the bytes. Tags 01-05 are identity, identity
// signature, address, address signature and photo; 08 the RRN certificate.
func TestRealViewerFile(t *testing.T) {
	dir := realCardsDir(t)
	b := readReal(t, dir, "71715100070.eid")
	recs := map[byte][]byte{}
	for len(b) > 0 {
		tag, n, i := b[0], 0, 1
		for {
			if i >= len(b) || i > 4 {
				t.Fatal("truncated record length")
			}
			n = n<<7 | int(b[i]&0x7F)
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
		if n > len(b)-i {
			t.Fatalf("record %02X runs past the end", tag)
		}
		recs[tag] = b[i : i+n]
		b = b[i+n:]
	}
	files := [6][]byte{recs[1], recs[2], recs[3], recs[4], recs[5], recs[8]}
	for i, f := range files {
		if len(f) == 0 {
			t.Fatalf("record %d missing", i)
		}
	}
	id, err := ParseIdentity(files[0])
	if err != nil || len(id.FieldErrors) != 0 || id.NationalNumber != "71715100070" || id.BirthDate != (Date{1971, time.January, 1}) {
		t.Fatalf("identity: %+v, %v", id, err)
	}
	c := &Contents{IdentityFile: files[0], IdentitySignature: files[1], AddressFile: files[2], AddressSignature: files[3], Photo: files[4]}
	if c.RRNCert, err = x509.ParseCertificate(files[5]); err != nil {
		t.Fatal(err)
	}
	checkRealSet(t, c)
}

// TestBelgianRoots checks the published Belgian roots and CAs with the
// certificate check the integrity code uses: each root signs itself (the
// older ones with SHA-1, which Go refuses on its own), and the 2020
// citizen and foreigner CAs are issued by Belgium Root CA6.
func TestBelgianRoots(t *testing.T) {
	dir := realCardsDir(t)
	certs := map[string]*x509.Certificate{}
	paths, err := filepath.Glob(filepath.Join(dir, "belgian-roots", "*.pem"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no certificates: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", p)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		certs[strings.TrimSuffix(filepath.Base(p), ".pem")] = c
	}
	for _, root := range []string{"belgiumrca2", "belgiumrca3", "belgiumrca4", "BRCA6"} {
		if err := checkIssuedBy(certs[root], certs[root]); err != nil {
			t.Errorf("%s: %v", root, err)
		}
	}
	for _, ca := range []string{"CitizenCA202002", "ForeignerCA202001"} {
		if err := checkIssuedBy(certs[ca], certs["BRCA6"]); err != nil {
			t.Errorf("%s under BRCA6: %v", ca, err)
		}
		if err := checkIssuedBy(certs[ca], certs["belgiumrca4"]); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s under belgiumrca4: %v, want ErrIntegrity", ca, err)
		}
	}
	t.Log("checked ", slices.Sorted(maps.Keys(certs)))
}
