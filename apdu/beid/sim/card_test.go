package sim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

func TestParseProfile(t *testing.T) {
	tests := []struct {
		in   string
		want Profile
		ok   bool
	}{
		{"rsa", ProfileRSA, true},
		{"1.7", ProfileRSA, true},
		{" RSA ", ProfileRSA, true},
		{"ecc", ProfileECC, true},
		{"1.8", ProfileECC, true},
		{"ECC", ProfileECC, true},
		{"", 0, false},
		{"1.1", 0, false},
		{"p384", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseProfile(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseProfile(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnknownProfile) {
			t.Errorf("ParseProfile(%q) error %v does not match ErrUnknownProfile", tt.in, err)
		}
		if tt.ok {
			if back, err := ParseProfile(got.String()); err != nil || back != got {
				t.Errorf("ParseProfile(%v.String()) = %v, %v", got, back, err)
			}
		}
	}
}

func TestATR(t *testing.T) {
	tests := []struct {
		p    Profile
		atr  string
		gen  beid.Generation
		vers byte
	}{
		{ProfileRSA, "3B 98 13 40 0A A5 03 01 01 01 AD 13 11", beid.GenerationRSA, 0x17},
		{ProfileECC, "3B 7F 96 00 00 80 31 80 65 B0 85 04 01 20 12 0F FF 82 90 00", beid.GenerationECC, 0x18},
	}
	for _, tt := range tests {
		c := newCard(t, tt.p)
		if got := c.ATR(); !bytes.Equal(got, h(t, tt.atr)) {
			t.Errorf("%v ATR % X, want %s", tt.p, got, tt.atr)
		}
		if g := beid.RecognizeATR(c.ATR()); g != tt.gen {
			t.Errorf("%v: the driver sees %v", tt.p, g)
		}
		c.ATR()[0] = 0 // callers get a copy
		if c.ATR()[0] != 0x3B {
			t.Errorf("%v: ATR shares memory with the card", tt.p)
		}
		data := expect(t, c, "80 E4 00 00 1C", apdu.SWOK)
		if data[21] != tt.vers || tt.p.AppletVersion() != tt.vers {
			t.Errorf("%v: applet version %02X, want %02X", tt.p, data[21], tt.vers)
		}
	}
}

func TestSelect(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			tests := []struct {
				name  string
				steps []step
			}{
				{"applet AID P2=0C", []step{{"00 A4 04 0C 0F A0 00 00 00 30 29 05 70 00 AD 13 10 01 01 FF", apdu.SWOK}}},
				{"applet AID P2=00 as eid-mw sends it", []step{{"00 A4 04 00 0F A0 00 00 00 30 29 05 70 00 AD 13 10 01 01 FF", apdu.SWOK}}},
				{"BELPIC AID then relative EF", []step{
					{"00 A4 04 0C 0C A0 00 00 01 77 50 4B 43 53 2D 31 35", apdu.SWOK},
					{"00 A4 02 0C 02 50 38", apdu.SWOK},
					{"00 B0 00 00 02", apdu.SWOK}}},
				{"ID AID then relative EF", []step{
					{"00 A4 04 0C 0C A0 00 00 01 77 49 64 46 69 6C 65 73", apdu.SWOK},
					{"00 A4 02 0C 02 40 31", apdu.SWOK}}},
				{"unknown AID", []step{{"00 A4 04 0C 05 A0 00 00 00 01", apdu.SWFileNotFound}}},
				{"path with MF", []step{{"00 A4 08 0C 06 3F 00 DF 01 40 31", apdu.SWOK}, {"00 B0 00 00 01", apdu.SWOK}}},
				{"path without MF", []step{{"00 A4 08 0C 04 DF 00 50 39", apdu.SWOK}, {"00 B0 00 00 01", apdu.SWOK}}},
				{"path to MF", []step{{"00 A4 08 0C 02 3F 00", apdu.SWOK}, {"00 B0 00 00 01", apdu.SWNoCurrentEF}}},
				{"path to EF(DIR)", []step{{"00 A4 08 0C 04 3F 00 2F 00", apdu.SWOK}, {"00 B0 00 00 01", apdu.SWOK}}},
				{"path through an EF", []step{{"00 A4 08 0C 06 DF 01 40 31 40 32", apdu.SWFileNotFound}}},
				{"path not found", []step{{"00 A4 08 0C 06 3F 00 DF 01 50 38", apdu.SWFileNotFound}}},
				{"path odd length", []step{{"00 A4 08 0C 03 3F 00 DF", apdu.SWLcInconsistent}}},
				{"path empty", []step{{"00 A4 08 0C", apdu.SWWrongLength}}},
				{"eid-mw walk", []step{
					{"00 A4 02 0C 02 40 31", apdu.SWFileNotFound}, // not in the MF
					{"00 A4 02 0C 02 3F 00", apdu.SWOK},
					{"00 A4 02 0C 02 DF 01", apdu.SWOK},
					{"00 A4 02 0C 02 40 31", apdu.SWOK},
					{"00 B0 00 00 01", apdu.SWOK}}},
				{"sibling DF from a DF", []step{
					{"00 A4 02 0C 02 DF 00", apdu.SWOK},
					{"00 A4 02 0C 02 DF 01", apdu.SWOK},
					{"00 A4 02 0C 02 40 35", apdu.SWOK}}},
				{"EF of another DF", []step{
					{"00 A4 02 0C 02 DF 00", apdu.SWOK},
					{"00 A4 02 0C 02 40 31", apdu.SWFileNotFound}}},
				{"failed select keeps the current EF", []step{
					{"00 A4 08 0C 04 DF 01 40 33", apdu.SWOK},
					{"00 A4 02 0C 02 12 34", apdu.SWFileNotFound},
					{"00 B0 00 00 01", apdu.SWOK}}},
				{"selecting a DF drops the current EF", []step{
					{"00 A4 08 0C 04 DF 01 40 33", apdu.SWOK},
					{"00 A4 02 0C 02 DF 01", apdu.SWOK},
					{"00 B0 00 00 01", apdu.SWNoCurrentEF}}},
				{"FID with 3 bytes", []step{{"00 A4 02 0C 03 3F 00 00", apdu.SWLcInconsistent}}},
				{"FID missing", []step{{"00 A4 02 0C", apdu.SWWrongLength}}},
				{"bad P2", []step{{"00 A4 02 04 02 3F 00", apdu.SWIncorrectP1P2}}},
				{"bad P1", []step{{"00 A4 00 0C 02 3F 00", apdu.SWIncorrectP1P2}}},
				{"no 5033", []step{{"00 A4 08 0C 04 DF 00 50 33", apdu.SWFileNotFound}}},
				{"card manager, then the applet again", []step{
					{"00 A4 04 00", apdu.SWOK},
					{"00 A4 08 0C 04 DF 01 40 31", apdu.SWIncorrectP1P2},
					{"00 A4 04 0C 0C A0 00 00 01 77 50 4B 43 53 2D 31 35", apdu.SWFileNotFound},
					{"80 E4 00 00 1C", apdu.SWInsNotSupported},
					{"00 A4 04 00 0F A0 00 00 00 30 29 05 70 00 AD 13 10 01 01 FF", apdu.SWOK},
					{"00 A4 08 0C 04 DF 01 40 31", apdu.SWOK}}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					run(t, newCardShared(t, p), tt.steps)
				})
			}
		})
	}
}

// newCardShared returns a fresh session of a per-profile card, which is
// much cheaper than New for tests that only need a clean state.
func newCardShared(t testing.TB, p Profile) *Card {
	t.Helper()
	return fork(baseCard(t, p))
}

var baseCards = map[Profile]*Card{}

func baseCard(t testing.TB, p Profile) *Card {
	if c, ok := baseCards[p]; ok {
		return c
	}
	c := newCard(t, p)
	baseCards[p] = c
	return c
}

// fork makes a card with c's personalisation and a fresh state; the
// contents are never written after New, so sharing them is safe.
func fork(c *Card) *Card {
	f := &Card{profile: c.profile, k: c.k, pin: c.pin, tries: maxPINTries}
	f.s = f.freshSession()
	return f
}

func TestBasicKeyFile(t *testing.T) {
	run(t, newCardShared(t, ProfileRSA), []step{{"00 A4 08 0C 06 3F 00 DF 01 40 40", apdu.SWFileNotFound}})
	c := newCardShared(t, ProfileECC)
	b := readFile(t, c, "3F00DF014040", 0xFC)
	if len(b) != 120 || !bytes.HasPrefix(b, h(t, "30 76 30 10 06 07 2A 86 48 CE 3D 02 01 06 05 2B 81 04 00 22 03 62 00 04")) {
		t.Errorf("4040 is %d bytes: % X", len(b), b)
	}
}

func TestReadBinary(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			c := newCardShared(t, p)
			photo, _ := c.File(beid.FilePhoto)
			addr, _ := c.File(beid.FileAddress)
			if len(addr) != 117 {
				t.Fatalf("address file is %d bytes, want 117", len(addr))
			}
			run(t, c, []step{
				{"00 B0 00 00 10", apdu.SWNoCurrentEF},
				{"00 A4 08 0C 04 DF 01 40 33", apdu.SWOK},
				{"00 B0 00 00 75", apdu.SWOK},        // exactly 117
				{"00 B0 00 00 76", 0x6C75},           // one too many
				{"00 B0 00 00 00", 0x6C75},           // Le=00 is 256
				{"00 B0 00 00", 0x6C75},              // no Le: T=0 P3=00
				{"00 B0 00 70 10", 0x6C05},           // 5 left at offset 112
				{"00 B0 00 74 01", apdu.SWOK},        // last byte
				{"00 B0 00 75 01", apdu.SWWrongP1P2}, // offset = size
				{"00 B0 7F FF 01", apdu.SWWrongP1P2},
				{"00 B0 80 00 01", apdu.SWWrongP1P2}, // SFI form
				{"00 B0 00 00 02 00 00 01", apdu.SWWrongLength},
			})
			// Le=00 on a file with 256 or more bytes left gives 256.
			expect(t, c, "00 A4 08 0C 04 DF 01 40 35", apdu.SWOK)
			if data := expect(t, c, "00 B0 00 00 00", apdu.SWOK); !bytes.Equal(data, photo[:256]) {
				t.Error("Le=00 did not return the first 256 photo bytes")
			}
			rest := len(photo) - 0x0100
			if _, sw := tx(t, c, []byte{0x00, 0xB0, 0x01, 0x00, 0x00}); rest < 256 && sw != exactLength(rest) {
				t.Errorf("SW %s", sw)
			}
			// Every file reads back whole with the chunk sizes of real
			// clients (facts §3).
			files := []beid.File{beid.FileIdentity, beid.FileIdentitySignature, beid.FileAddress,
				beid.FileAddressSignature, beid.FilePhoto, beid.FileAuthCert, beid.FileSignCert,
				beid.FileCACert, beid.FileRootCert, beid.FileRRNCert}
			if p == ProfileECC {
				files = append(files, beid.FileBasicPublicKey)
			}
			for _, f := range files {
				want, ok := c.File(f)
				if !ok {
					t.Fatalf("no %s", f.Name)
				}
				path := ""
				for _, fid := range f.Path {
					path += hexFID(fid)
				}
				for _, chunk := range []int{0xFC, 0xF8, 0x80, 0xFF, 0} {
					if got := readFile(t, c, path, chunk); !bytes.Equal(got, want) {
						t.Errorf("%s with chunk %d: %d bytes, want %d", f.Name, chunk, len(got), len(want))
					}
				}
			}
		})
	}
}

func hexFID(fid uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[fid>>12], digits[fid>>8&15], digits[fid>>4&15], digits[fid&15]})
}

// TestExchange reads through apdu.Exchange, the T=0 handling the driver
// uses, to check that the two agree on 6Cxx and 61xx.
func TestExchange(t *testing.T) {
	for _, p := range profiles {
		c := newCardShared(t, p)
		ctx := context.Background()
		if _, err := apdu.Run(ctx, c, apdu.Command{INS: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: h(t, "3F00DF014033")}); err != nil {
			t.Fatal(err)
		}
		data, err := apdu.Run(ctx, c, apdu.Command{INS: apdu.InsReadBinary, Le: 256})
		if want, _ := c.File(beid.FileAddress); err != nil || !bytes.Equal(data, want) {
			t.Errorf("%v: read address via 6Cxx: % X, %v", p, data, err)
		}
		data, err = apdu.Run(ctx, c, apdu.Command{CLA: 0x80, INS: 0xE4, Le: 256})
		if err != nil || len(data) != 28 {
			t.Errorf("%v: GET CARD DATA via 6Cxx: %d bytes, %v", p, len(data), err)
		}
	}
}

func TestGetCardData(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			c := newCardShared(t, p)
			data := expect(t, c, "80 E4 00 00 1C", apdu.SWOK)
			if len(data) != 28 {
				t.Fatalf("%d bytes", len(data))
			}
			if !bytes.Equal(data[:16], c.Serial()) {
				t.Errorf("serial % X, card says % X", data[:16], c.Serial())
			}
			cd, err := beid.ParseCardData(data)
			if err != nil {
				t.Fatal(err)
			}
			wantOS := map[Profile]uint16{ProfileRSA: 0x0003, ProfileECC: 0x0001, ProfileRSAECRRN: 0x0003}[p]
			wantPKCS1 := map[Profile]byte{ProfileRSA: 0x21, ProfileECC: 0x00, ProfileRSAECRRN: 0x21}[p]
			if cd.AppletVersion != p.AppletVersion() || cd.GlobalOSVer != wantOS || cd.PKCS1Support != wantPKCS1 || cd.LifeCycle != 0x0F {
				t.Errorf("card data %+v", cd)
			}
			run(t, c, []step{
				{"80 E4 00 00 1B", 0x6C1C},
				{"80 E4 00 00 1D", 0x6C1C},
				{"80 E4 00 00", 0x6C1C},
				{"80 E4 01 00 1C", apdu.SWWrongP1P2},
				{"80 E4 00 02 1C", apdu.SWWrongP1P2},
				{"00 E4 00 00 1C", apdu.SWClaNotSupported},
			})
			if p != ProfileECC {
				expect(t, c, "80 E4 00 01 1F", apdu.SWWrongP1P2)
				return
			}
			expect(t, c, "80 E4 00 01 1C", 0x6C1F)
			ext := expect(t, c, "80 E4 00 01 1F", apdu.SWOK)
			if !bytes.Equal(ext[:28], data) || !bytes.Equal(ext[28:], []byte{3, 0xFF, 0xFF}) {
				t.Errorf("P2=01 answer % X", ext)
			}
			expect(t, c, verifyBad, 0x63C2)
			if ext := expect(t, c, "80 E4 00 01 1F", apdu.SWOK); ext[28] != 2 {
				t.Errorf("tries byte %d after a wrong PIN, want 2", ext[28])
			}
		})
	}
}

func TestTokenInfoAndDIR(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	ti := readFile(t, c, "3F00DF005032", 0xFC)
	if !bytes.Contains(ti, append([]byte{0x04, 0x10}, c.Serial()...)) || !bytes.Contains(ti, []byte("BELPIC")) {
		t.Errorf("TokenInfo lacks serial or label: % X", ti)
	}
	tlvs, err := apdu.ParseBER(ti)
	if err != nil || len(tlvs) != 1 || tlvs[0].Tag != 0x30 {
		t.Errorf("TokenInfo is not one SEQUENCE: %v", err)
	}
	dir := readFile(t, c, "3F002F00", 0xFC)
	app, ok, err := apdu.FindBER(dir, 0x61)
	if err != nil || !ok {
		t.Fatalf("EF(DIR) % X: %v", dir, err)
	}
	aid, ok, err := apdu.FindBER(app, 0x4F)
	if err != nil || !ok || !bytes.Equal(aid, aidBelpic) {
		t.Errorf("EF(DIR) AID % X", aid)
	}
	// Key usages as OpenSC's pkcs15-tool shows them for a real card:
	// sign for 82, nonRepudiation for 83 (PKCS#15 KeyUsageFlags bits 2, 9).
	prkdf := readFile(t, c, "3F00DF005035", 0xFC)
	if !bytes.Contains(prkdf, h(t, "03 02 05 20")) || !bytes.Contains(prkdf, h(t, "03 03 06 00 40")) {
		t.Errorf("PrKDF key usages: % X", prkdf)
	}
	for _, fid := range []string{"5031", "5034", "5035", "5037"} {
		b := readFile(t, c, "3F00DF00"+fid, 0xFC)
		if _, err := apdu.ParseBER(b); err != nil || len(b) == 0 {
			t.Errorf("%s is not BER: %v", fid, err)
		}
	}
}

func TestUnknownCommands(t *testing.T) {
	for _, p := range profiles {
		c := newCardShared(t, p)
		run(t, c, []step{
			{"00 CA 01 00 00", apdu.SWInsNotSupported},
			{"00 0E 00 00", apdu.SWInsNotSupported},
			{"A0 A4 00 00 02 3F 00", apdu.SWClaNotSupported},
			{"0C A4 02 0C 02 3F 00", apdu.SWClaNotSupported},
			{"10 A4 02 0C 02 3F 00", apdu.SWClaNotSupported},
			{"80 B0 00 00 10", apdu.SWClaNotSupported},
			{"00 E6 00 00", apdu.SWClaNotSupported},
			{"00 B0 00 00 00 00 10", apdu.SWWrongLength}, // extended Le
			{"00 A4 02 0C 05 3F 00", apdu.SWWrongLength}, // Lc too long
			{"00 A4", apdu.SWWrongLength},
			{"", apdu.SWWrongLength},
		})
		readRecord := apdu.SWInsNotSupported
		if p == ProfileECC {
			readRecord = apdu.SWNoCurrentEF
		}
		expect(t, c, "80 B2 01 01 00", readRecord)
	}
}

func TestReadRecord(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	id, _ := c.File(beid.FileIdentity)
	run(t, c, []step{
		{"00 A4 08 0C 04 DF 01 40 35", apdu.SWOK},
		{"80 B2 01 01 00", apdu.SWCommandIncompatible},
		{"00 A4 08 0C 04 DF 01 40 31", apdu.SWOK},
		{"80 B2 07 06 00", apdu.SWRecordNotFound},
		{"80 B2 20 30 00", apdu.SWRecordNotFound},
	})
	card := expect(t, c, "80 B2 01 01 00", apdu.SWOK)
	if want := append([]byte{0x01, 12}, c.Person().Identity.CardNumber...); !bytes.Equal(card, want) {
		t.Errorf("tag 01: % X, want % X", card, want)
	}
	expect(t, c, "80 B2 01 01 20", 0x6C0E)
	all := expect(t, c, "80 B2 00 FF 00", apdu.SWOK)
	if !bytes.Equal(all, id) {
		t.Errorf("all tags: % X, want the file % X", all, id)
	}
	expect(t, c, "00 A4 08 0C 04 DF 01 40 33", apdu.SWOK)
	addr := expect(t, c, "80 B2 01 03 00", apdu.SWOK)
	if a, err := beid.ParseAddress(addr); err != nil || a.Municipality != "Gent" {
		t.Errorf("address records % X: %+v, %v", addr, a, err)
	}
}

func TestGetChallenge(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	a := expect(t, c, "00 84 00 00 08", apdu.SWOK)
	b := expect(t, c, "00 84 00 00 08", apdu.SWOK)
	if len(a) != 8 || bytes.Equal(a, b) {
		t.Errorf("challenges % X and % X", a, b)
	}
	expect(t, c, "00 84 01 00 08", apdu.SWIncorrectP1P2)
}

func TestPhotoAndHashes(t *testing.T) {
	for _, p := range profiles {
		c := newCardShared(t, p)
		photo, _ := c.File(beid.FilePhoto)
		if len(photo) < 2000 || len(photo) > 4000 || !bytes.HasPrefix(photo, []byte{0xFF, 0xD8}) {
			t.Errorf("%v: photo of %d bytes starting % X", p, len(photo), photo[:2])
		}
		raw, _ := c.File(beid.FileIdentity)
		id, err := beid.ParseIdentity(raw)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		if p == ProfileECC {
			s := sha512.Sum384(photo)
			want = s[:]
			key, _ := c.File(beid.FileBasicPublicKey)
			if kh := sha512.Sum384(key); !bytes.Equal(id.BasicKeyHash, kh[:]) {
				t.Error("tag 1A is not the SHA-384 of 4040")
			}
		} else {
			if p == ProfileRSAECRRN {
				s := sha256.Sum256(photo) // as on real 1.7 cards of 2018 and 2022
				want = s[:]
			} else {
				s := sha1.Sum(photo)
				want = s[:]
			}
			if id.BasicKeyHash != nil {
				t.Error("1.7 identity carries tag 1A")
			}
		}
		if !bytes.Equal(id.PhotoHash, want) {
			t.Errorf("%v: photo hash % X, want % X", p, id.PhotoHash, want)
		}
		if !bytes.Equal(id.ChipNumber, c.Serial()) {
			t.Errorf("%v: chip number % X, serial % X", p, id.ChipNumber, c.Serial())
		}
		def := DefaultPerson().Identity
		if id.Surname != def.Surname || id.NationalNumber != def.NationalNumber || id.BirthDate != def.BirthDate || id.ValidUntil != def.ValidUntil {
			t.Errorf("%v: identity %+v", p, id)
		}
	}
}

// TestPrKDFAndTokenInfo is S5: the key directory and token information
// read, with a plain ASN.1 decoder, as the card content document gives
// them.
func TestPrKDFAndTokenInfo(t *testing.T) {
	type commonObject struct {
		Label       string `asn1:"utf8"`
		Flags       asn1.BitString
		AuthID      []byte
		UserConsent int `asn1:"optional"`
	}
	type commonKey struct {
		ID          []byte
		Usage       asn1.BitString
		AccessFlags asn1.BitString
		KeyRef      int
	}
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			c := newCardShared(t, p)
			rest := readFile(t, c, "3F00DF005035", 0xFC)
			want := []struct {
				label   string
				ref     int
				consent int
			}{{"Authentication", 0x82, 0}, {"Signature", 0x83, 1}}
			for i := 0; len(rest) > 0; i++ {
				var key asn1.RawValue
				var err error
				if rest, err = asn1.Unmarshal(rest, &key); err != nil {
					t.Fatal(err)
				}
				wantClass, wantTag := asn1.ClassUniversal, asn1.TagSequence // privateRSAKey
				if p == ProfileECC {
					wantClass, wantTag = asn1.ClassContextSpecific, 0 // privateECKey [0]
				}
				if key.Class != wantClass || key.Tag != wantTag || i >= len(want) {
					t.Fatalf("key %d: class %d tag %d", i, key.Class, key.Tag)
				}
				var co commonObject
				var ck commonKey
				in, err := asn1.Unmarshal(key.Bytes, &co)
				if err == nil {
					_, err = asn1.Unmarshal(in, &ck)
				}
				if err != nil {
					t.Fatalf("key %d: %v", i, err)
				}
				w := want[i]
				if co.Label != w.label || ck.KeyRef != w.ref || co.UserConsent != w.consent || !bytes.Equal(co.AuthID, []byte{1}) {
					t.Errorf("key %d: %+v %+v, want label %s, reference %02X, userConsent %d", i, co, ck, w.label, w.ref, w.consent)
				}
				// KeyAccessFlags: sensitive(0), alwaysSensitive(2),
				// neverExtractable(3), local(4); not extractable(1).
				for bit, set := range []int{1, 0, 1, 1, 1} {
					if ck.AccessFlags.At(bit) != set {
						t.Errorf("key %d: access flag %d is %d, want %d", i, bit, ck.AccessFlags.At(bit), set)
					}
				}
			}

			var ti struct {
				Version    int
				Serial     []byte
				Label      string `asn1:"tag:0,utf8"`
				TokenFlags asn1.BitString
				Versions   []byte `asn1:"tag:30"`
			}
			raw := readFile(t, c, "3F00DF005032", 0xFC)
			// 9E is [30], primitive: the four version bytes.
			if _, err := asn1.Unmarshal(raw, &ti); err != nil {
				t.Fatalf("TokenInfo % X: %v", raw, err)
			}
			if !bytes.Equal(ti.Serial, c.Serial()) || ti.Label != "BELPIC" {
				t.Errorf("TokenInfo %+v", ti)
			}
			// tokenflags of a real card: prnGeneration(2), eidCompliant(3).
			if ti.TokenFlags.At(0) != 0 || ti.TokenFlags.At(1) != 0 || ti.TokenFlags.At(2) != 1 || ti.TokenFlags.At(3) != 1 {
				t.Errorf("token flags % X", ti.TokenFlags.Bytes)
			}
			wantVersions := map[Profile][]byte{ProfileECC: {4, 4, 1, 0}}[p]
			if wantVersions == nil {
				wantVersions = []byte{4, 2, 0, 0}
			}
			if !bytes.Equal(ti.Versions, wantVersions) {
				t.Errorf("perso and interface versions % X, want % X", ti.Versions, wantVersions)
			}
		})
	}
}
