package beid

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tlv builds an identity or address file by hand, tag, one length byte,
// value, so that the parser is not tested against its own encoder.
func tlv(fields ...any) []byte {
	var b []byte
	for i := 0; i < len(fields); i += 2 {
		tag := fields[i].(int)
		var v []byte
		switch x := fields[i+1].(type) {
		case string:
			v = []byte(x)
		case []byte:
			v = x
		}
		b = append(b, byte(tag), byte(len(v)))
		b = append(b, v...)
	}
	return b
}

var (
	testPhotoHash = bytes.Repeat([]byte{0xAB}, 20)
	testChip      = bytes.Repeat([]byte{0x53}, 16)
)

func sampleIdentityFile() []byte {
	return tlv(
		0x00, []byte{0x01, 0x03},
		0x01, "592123456789",
		0x02, testChip,
		0x03, "15.03.2021",
		0x04, "15.03.2031",
		0x05, "Sint-Jans-Molenbeek",
		0x06, "90010112345",
		0x07, "Van den Berghe",
		0x08, "Jean-Émile Marie",
		0x09, "P",
		0x0A, "Belg",
		0x0B, "Liège",
		0x0C, "01 JAN 1990",
		0x0D, "V",
		0x0F, "1",
		0x10, "0",
		0x11, testPhotoHash,
	)
}

func TestParseIdentity(t *testing.T) {
	file := append(sampleIdentityFile(), make([]byte, 30)...) // zero padding
	id, err := ParseIdentity(file)
	if err != nil {
		t.Fatal(err)
	}
	want := &Identity{
		FileVersion:         []byte{0x01, 0x03},
		CardNumber:          "592123456789",
		ChipNumber:          testChip,
		ValidFrom:           Date{2021, time.March, 15},
		ValidUntil:          Date{2031, time.March, 15},
		IssuingMunicipality: "Sint-Jans-Molenbeek",
		NationalNumber:      "90010112345",
		Surname:             "Van den Berghe",
		GivenNames:          "Jean-Émile Marie",
		ThirdNameInitial:    "P",
		Nationality:         "Belg",
		BirthPlace:          "Liège",
		BirthDate:           Date{1990, time.January, 1},
		BirthDateRaw:        "01 JAN 1990",
		Sex:                 "F",
		DocumentType:        "1",
		SpecialStatus:       "0",
		PhotoHash:           testPhotoHash,
	}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("ParseIdentity:\n got %+v\nwant %+v", id, want)
	}
}

func TestParseIdentityApplet18Fields(t *testing.T) {
	keyHash := bytes.Repeat([]byte{0x1A}, 48)
	file := tlv(
		0x01, "B12345678",
		0x07, "Doe",
		0x12, "01",
		0x13, "2",
		0x14, "",
		0x15, "01.02.2020-UA",
		0x16, "7",
		0x17, "0123.456.789",
		0x18, "0987.654.321",
		0x19, "A123456789",
		0x1A, keyHash,
		0x1B, "B",
		0x1C, "C",
		0x1D, "D",
		0x1E, "K",
		0x1F, "02.03.2019",
		0x25, "future tag",
	)
	id, err := ParseIdentity(file)
	if err != nil {
		t.Fatal(err)
	}
	want := &Identity{
		CardNumber: "B12345678", Surname: "Doe", Duplicate: "01", SpecialOrganisation: "2",
		MemberOfFamily: true, ProtectionDateCountry: "01.02.2020-UA", WorkPermit: "7",
		EmployerVAT1: "0123.456.789", EmployerVAT2: "0987.654.321", RegionalFileNumber: "A123456789",
		BasicKeyHash: keyHash, BrexitMention1: "B", BrexitMention2: "C", CardAMention1: "D",
		CardAMention2: "K", EUCardStartDate: Date{2019, time.March, 2},
	}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("ParseIdentity:\n got %+v\nwant %+v", id, want)
	}
}

func TestParseIdentityMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"truncated value", []byte{0x07, 0x10, 'a', 'b'}},
		{"missing length", []byte{0x01, 0x02, '1', '2', 0x07}},
		{"tag 00 in the middle", append(tlv(0x01, "1"), tlv(0x00, "x", 0x07, "Doe")...)},
		{"garbage after padding", append(append(tlv(0x07, "Doe"), 0, 0, 0), 0x42)},
		{"only unknown tags", tlv(0x55, "x")},
	} {
		_, err := ParseIdentity(tc.file)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tc.name, err)
		}
	}
}

// TestParseIdentityFieldErrors is D4: an odd field is kept as far as it
// reads and reported on its own; the card stays readable.
func TestParseIdentityFieldErrors(t *testing.T) {
	surname := tlv(0x07, "Peeters")
	for _, tc := range []struct {
		name  string
		field []byte
		tag   byte
		check func(id *Identity) bool
	}{
		{"bad validity date", tlv(0x03, "2021-03-15"), 0x03, func(id *Identity) bool { return id.ValidFrom.IsZero() }},
		{"impossible validity date", tlv(0x04, "31.02.2031"), 0x04, func(id *Identity) bool { return id.ValidUntil.IsZero() }},
		{"unknown birth month", tlv(0x0C, "01 FOO 1990"), 0x0C, func(id *Identity) bool {
			return id.BirthDate == Date{Year: 1990, Day: 1} && id.BirthDateRaw == "01 FOO 1990"
		}},
		{"birth date without year", tlv(0x0C, "01 JAN"), 0x0C, func(id *Identity) bool {
			return id.BirthDate.IsZero() && id.BirthDateRaw == "01 JAN"
		}},
		{"bad sex", tlv(0x0D, "X"), 0x0D, func(id *Identity) bool { return id.Sex == "X" }},
		{"short national number", tlv(0x06, "9001011234"), 0x06, func(id *Identity) bool { return id.NationalNumber == "9001011234" }},
		{"letters in national number", tlv(0x06, "9001011234X"), 0x06, func(id *Identity) bool { return id.NationalNumber == "9001011234X" }},
		{"invalid UTF-8", tlv(0x08, "Ann\xffe"), 0x08, func(id *Identity) bool { return id.GivenNames == "Ann\uFFFDe" }},
		{"control character", tlv(0x08, "An\x00n"), 0x08, func(id *Identity) bool { return id.GivenNames == "An\uFFFDn" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The parser does not need the card's ascending tag order.
			file := append(append(bytes.Clone(surname), tc.field...), tlv(0x0F, "1")...)
			id, err := ParseIdentity(file)
			if err != nil {
				t.Fatalf("one odd field failed the whole file: %v", err)
			}
			if id.Surname != "Peeters" || id.DocumentType != "1" {
				t.Errorf("the other fields were lost: %+v", id)
			}
			if len(id.FieldErrors) == 0 {
				t.Fatal("no field error")
			}
			fe := id.FieldErrors[0]
			if fe.Tag != tc.tag || !errors.Is(fe, ErrMalformed) {
				t.Errorf("field error %v (tag %02X), want tag %02X matching ErrMalformed", fe, fe.Tag, tc.tag)
			}
			if !tc.check(id) {
				t.Errorf("kept value wrong: %+v", id)
			}
		})
	}
}

func TestParseIdentityErrorHidesNationalNumber(t *testing.T) {
	id, err := ParseIdentity(tlv(0x06, "90010112345X"))
	if err != nil {
		t.Fatal(err)
	}
	if len(id.FieldErrors) != 1 || strings.Contains(id.FieldErrors[0].Error(), "9001011234") {
		t.Errorf("field errors %v quote the national number", id.FieldErrors)
	}
}

// TestParseTrims is D5: values padded with spaces come out trimmed; the
// file's bytes, which the RRN signed, are untouched.
func TestParseTrims(t *testing.T) {
	file := tlv(0x01, "Elfbunderslaan 76"+strings.Repeat(" ", 25), 0x02, "1650", 0x03, " Beersel ")
	a, err := ParseAddress(file)
	if err != nil {
		t.Fatal(err)
	}
	if a.Street != "Elfbunderslaan 76" || a.Municipality != "Beersel" || len(a.FieldErrors) != 0 {
		t.Errorf("ParseAddress = %+v", a)
	}
	id, err := ParseIdentity(tlv(0x07, "SPECIMEN  ", 0x08, "  Alice Geldigekaart", 0x0C, "26 AVR  1975 "))
	if err != nil {
		t.Fatal(err)
	}
	if id.Surname != "SPECIMEN" || id.GivenNames != "Alice Geldigekaart" || id.BirthDateRaw != "26 AVR  1975" {
		t.Errorf("ParseIdentity = %+v", id)
	}
}

func TestParseIdentityTolerates(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
		want Identity
	}{
		{"no tag 00", tlv(0x01, "1234", 0x07, "Doe"), Identity{CardNumber: "1234", Surname: "Doe"}},
		{"padding", append(tlv(0x07, "Doe"), 0, 0, 0, 0), Identity{Surname: "Doe"}},
		{"single zero padding", append(tlv(0x07, "Doe"), 0), Identity{Surname: "Doe"}},
		{"empty given names", tlv(0x07, "Doe", 0x08, ""), Identity{Surname: "Doe"}},
		{"sex W", tlv(0x0D, "W"), Identity{Sex: "F"}},
		{"sex M", tlv(0x0D, "M"), Identity{Sex: "M"}},
		{"out of order", tlv(0x07, "Doe", 0x01, "1"), Identity{CardNumber: "1", Surname: "Doe"}},
		{"long field", tlv(0x07, strings.Repeat("x", 200)), Identity{Surname: strings.Repeat("x", 200)}},
		{"FF length", append([]byte{0x07, 0xFF, 0x01}, bytes.Repeat([]byte("y"), 256)...), Identity{Surname: strings.Repeat("y", 256)}},
	} {
		got, err := ParseIdentity(tc.file)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, *got, tc.want)
		}
	}
}

func TestParseBirthDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Date
	}{
		{"01 JAN 1990", Date{1990, 1, 1}},
		{"02 FEV 1991", Date{1991, 2, 2}},
		{"02 FEB 1991", Date{1991, 2, 2}},
		{"03 MAAR 1992", Date{1992, 3, 3}},
		{"03 MARS 1992", Date{1992, 3, 3}},
		{"03.MÄR.1992", Date{1992, 3, 3}},
		{"03.mär.1992", Date{1992, 3, 3}},
		{"04 AVR 1993", Date{1993, 4, 4}},
		{"05 MEI 1994", Date{1994, 5, 5}},
		{"05.MAI.1994", Date{1994, 5, 5}},
		{"06 JUIN 1995", Date{1995, 6, 6}},
		{"07 JUIL 1996", Date{1996, 7, 7}},
		{"08 AOUT 1997", Date{1997, 8, 8}},
		{"09 SEPT 1998", Date{1998, 9, 9}},
		{"10 OKT 1999", Date{1999, 10, 10}},
		{"10 OCT 1999", Date{1999, 10, 10}},
		{"11 NOV 2000", Date{2000, 11, 11}},
		{"12.DEZ.2001", Date{2001, 12, 12}},
		{"31 DEC 2001", Date{2001, 12, 31}},
		{"29 FEB 2000", Date{2000, 2, 29}},
		{"01 JAN  1990", Date{1990, 1, 1}},  // padded month
		{"01  JAN 1990 ", Date{1990, 1, 1}}, // stray spaces
		{"1 JAN 1990", Date{1990, 1, 1}},
		{"00 JAN 1950", Date{1950, 1, 0}}, // day unknown
		{"   JAN 1950", Date{1950, 1, 0}}, // blank day
		{"JAN 1950", Date{1950, 1, 0}},
		{"15      1950", Date{1950, 0, 15}}, // blank month
		{"1950", Date{1950, 0, 0}},          // year only
		{"00.   .1950", Date{1950, 0, 0}},
		{"01.02.1990", Date{1990, 2, 1}}, // numeric month
		{"", Date{}},
		{"   ", Date{}},
	} {
		got, err := ParseBirthDate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBirthDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"01 FOO 1990", "01 JAN 90", "32 JAN 1990", "30 FEB 1990", "29 FEB 1900",
		"01 JAN 1990 1991", "0000", "JAN", "01.13.1990", "x1 JAN 1990", "01 JAN 19900",
		"01-JAN-1990",
	} {
		if d, err := ParseBirthDate(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseBirthDate(%q) = %v, %v; want ErrMalformed", bad, d, err)
		}
	}
}

func TestFormatBirthDate(t *testing.T) {
	for _, tc := range []struct {
		d    Date
		lang string
		want string
	}{
		{Date{1990, 3, 2}, "nl", "02 MAAR 1990"},
		{Date{1990, 3, 2}, "fr", "02 MARS 1990"},
		{Date{1990, 3, 2}, "de", "02.MÄR. 1990"},
		{Date{1990, 3, 2}, "xx", "02 MAAR 1990"},
		{Date{1990, 8, 15}, "FR", "15 AOUT 1990"},
		{Date{1975, 4, 26}, "fr", "26 AVR  1975"},
		{Date{1979, 9, 29}, "fr", "29 SEPT 1979"},
		{Date{1997, 12, 22}, "de", "22.DEZ. 1997"},
		{Date{1990, 1, 0}, "nl", "JAN 1990"},
		{Date{1990, 1, 0}, "de", "JAN. 1990"},
		{Date{1990, 0, 15}, "de", "15. 1990"},
		{Date{1990, 0, 0}, "fr", "1990"},
		{Date{}, "nl", ""},
	} {
		got := FormatBirthDate(tc.d, tc.lang)
		if got != tc.want {
			t.Errorf("FormatBirthDate(%v, %q) = %q, want %q", tc.d, tc.lang, got, tc.want)
		}
		if back, err := ParseBirthDate(got); err != nil || back != tc.d {
			t.Errorf("ParseBirthDate(%q) = %v, %v; want %v back", got, back, err, tc.d)
		}
	}
}

func TestDateString(t *testing.T) {
	for _, tc := range []struct {
		d    Date
		want string
	}{
		{Date{1990, 3, 2}, "1990-03-02"},
		{Date{1990, 3, 0}, "1990-03"},
		{Date{1990, 0, 0}, "1990"},
		{Date{}, ""},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestIdentityMarshalRoundTrip(t *testing.T) {
	id, err := ParseIdentity(sampleIdentityFile())
	if err != nil {
		t.Fatal(err)
	}
	b, err := id.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The sample is in tag order with nothing to normalise, except V,
	// which comes back as F.
	want := bytes.Replace(sampleIdentityFile(), []byte{0x0D, 0x01, 'V'}, []byte{0x0D, 0x01, 'F'}, 1)
	if !bytes.Equal(b, want) {
		t.Errorf("MarshalBinary:\n got %X\nwant %X", b, want)
	}
	var back Identity
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, id) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *id)
	}
}

func TestIdentityMarshal(t *testing.T) {
	// Without BirthDateRaw the date is written in Dutch.
	id := &Identity{CardNumber: "1", BirthDate: Date{1985, time.March, 7}, MemberOfFamily: true,
		ValidFrom: Date{2020, 1, 2}, Sex: "V"}
	b, err := id.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := tlv(0x01, "1", 0x03, "02.01.2020", 0x0C, "07 MAAR 1985", 0x0D, "V", 0x14, "")
	if !bytes.Equal(b, want) {
		t.Errorf("MarshalBinary:\n got %X\nwant %X", b, want)
	}
	// BirthDateRaw wins over BirthDate.
	id = &Identity{CardNumber: "1", BirthDate: Date{1985, time.March, 7}, BirthDateRaw: "07.MÄR.1985"}
	if b, err = id.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if want := tlv(0x01, "1", 0x0C, "07.MÄR.1985"); !bytes.Equal(b, want) {
		t.Errorf("MarshalBinary:\n got %X\nwant %X", b, want)
	}
	// Long values use the FF length continuation.
	id = &Identity{Surname: strings.Repeat("z", 300)}
	if b, err = id.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0x07, 0xFF, 0x2D, 'z'}) || len(b) != 303 {
		t.Errorf("long field encoded as % X...", b[:4])
	}
	for _, bad := range []*Identity{
		nil,
		{},
		{NationalNumber: "123"},
		{Sex: "X"},
		{ValidFrom: Date{2020, 2, 30}},
		{ValidUntil: Date{2020, 0, 1}},
		{BirthDate: Date{0, 1, 1}},
		{BirthDateRaw: "yesterday"},
		{Surname: "\xff"},
		{Surname: "a\nb"},
	} {
		if _, err := bad.MarshalBinary(); !errors.Is(err, ErrMalformed) {
			t.Errorf("MarshalBinary(%+v) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestAddress(t *testing.T) {
	file := append(tlv(0x00, []byte{0x00, 0x01}, 0x01, "Rue de la Loi 16", 0x02, "1000", 0x03, "Bruxelles"), make([]byte, 40)...)
	a, err := ParseAddress(file)
	if err != nil {
		t.Fatal(err)
	}
	want := &Address{FileVersion: []byte{0x00, 0x01}, Street: "Rue de la Loi 16", ZipCode: "1000", Municipality: "Bruxelles"}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("ParseAddress = %+v, want %+v", a, want)
	}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, trimZeros(file)) {
		t.Errorf("MarshalBinary = %X, want %X", b, trimZeros(file))
	}
	var back Address
	if err := back.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(&back, a) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	// No tag 00, an unknown tag.
	a, err = ParseAddress(tlv(0x01, "Kerkstraat 1", 0x02, "9000", 0x03, "Gent", 0x09, "?"))
	if err != nil || a.Municipality != "Gent" || a.FileVersion != nil {
		t.Errorf("ParseAddress = %+v, %v", a, err)
	}
	for _, bad := range [][]byte{nil, {0x01}, tlv(0x42, "x"), append(tlv(0x01, "x"), 0, 1)} {
		if _, err := ParseAddress(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAddress(%X) = %v, want ErrMalformed", bad, err)
		}
	}
	// A field that is not UTF-8 is kept and reported; the address reads.
	a, err = ParseAddress(tlv(0x01, "\xC3", 0x02, "9000"))
	if err != nil || a.ZipCode != "9000" || a.Street != "\uFFFD" || len(a.FieldErrors) != 1 || !errors.Is(a.FieldErrors[0], ErrMalformed) {
		t.Errorf("ParseAddress with a bad street = %+v, %v", a, err)
	}
	if _, err := (&Address{}).MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty address: %v, want ErrMalformed", err)
	}
}

func TestDocumentTypeName(t *testing.T) {
	for code, want := range map[string]string{
		"1": "Belgian identity card", "01": "Belgian identity card", " 6": "Kids-ID",
		"31": "EU card: registration of an EU citizen", "99": "", "": "", "x": "",
	} {
		if got := DocumentTypeName(code); got != want {
			t.Errorf("DocumentTypeName(%q) = %q, want %q", code, got, want)
		}
	}
}
