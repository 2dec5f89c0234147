package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// mod97 checks the check digits of a Belgian national number or card
// number: the last two digits are 97 - (rest mod 97) for the former
// (with a 2 prefix for births from 2000) and rest mod 97 (0 as 97) for
// the latter.
func checkDigits(t *testing.T, nn, card string) {
	t.Helper()
	base, _ := strconv.ParseInt(nn[:9], 10, 64)
	cd, _ := strconv.ParseInt(nn[9:], 10, 64)
	if 97-base%97 != cd && 97-(2000000000+base)%97 != cd {
		t.Errorf("national number %s has bad check digits", nn)
	}
	base, _ = strconv.ParseInt(card[:10], 10, 64)
	cd, _ = strconv.ParseInt(card[10:], 10, 64)
	want := base % 97
	if want == 0 {
		want = 97
	}
	if cd != want {
		t.Errorf("card number %s has bad check digits", card)
	}
}

func TestDefaultPerson(t *testing.T) {
	p := DefaultPerson()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	checkDigits(t, p.Identity.NationalNumber, p.Identity.CardNumber)
	if d, err := beid.ParseBirthDate(p.Identity.BirthDateRaw); err != nil || d != p.Identity.BirthDate {
		t.Errorf("birth date %q parses as %v, %v", p.Identity.BirthDateRaw, d, err)
	}
	// Each call returns a value of its own.
	p.Identity.Surname = "changed"
	if DefaultPerson().Identity.Surname == "changed" {
		t.Error("DefaultPerson shares state")
	}
}

func TestLoadPerson(t *testing.T) {
	p, err := LoadPerson(filepath.Join("testdata", "person.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkDigits(t, p.Identity.NationalNumber, p.Identity.CardNumber)
	if p.Identity.GivenNames != "Élise Marguerite" || p.Address.ZipCode != "4000" ||
		p.Identity.BirthDate != (beid.Date{Year: 1985, Month: time.July, Day: 30}) ||
		p.Identity.ValidUntil != (beid.Date{Year: 2032, Month: time.June, Day: 1}) {
		t.Errorf("loaded %+v", p)
	}
	// The card carries it, and the driver reads it back.
	c, err := New(Options{Profile: ProfileECC, PKI: testPKI[ProfileECC], Person: p})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := c.File(beid.FileIdentity)
	id, err := beid.ParseIdentity(raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.Surname != "Dupont-Lemaître" || id.BirthDate != p.Identity.BirthDate || id.IssuingMunicipality != "Liège" {
		t.Errorf("identity file gives %+v", id)
	}
	if p.Identity.ChipNumber != nil {
		t.Error("New wrote into the caller's Person")
	}
	if cn := c.AuthCert().Subject.CommonName; cn != "Élise Dupont-Lemaître (Authentication)" {
		t.Errorf("auth certificate CN %q", cn)
	}
	if sn := c.SignCert().Subject.SerialNumber; sn != p.Identity.NationalNumber {
		t.Errorf("signature certificate serialNumber %q", sn)
	}
}

func TestParsePersonErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "person.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"unknown field", `"sex"`, `"gender"`},
		{"bad date", `"2022-06-01"`, `"01.06.2022"`},
		{"no such day", `"2032-06-01"`, `"2032-02-30"`},
		{"partial validity", `"2032-06-01"`, `"2032-06"`},
		{"bad sex", `"sex": "F"`, `"sex": "X"`},
		{"missing surname", `"Dupont-Lemaître"`, `""`},
		{"missing zip", `"4000"`, `""`},
		{"too long", `"Namur"`, `"` + strings.Repeat("n", 128) + `"`},
		{"not JSON", `{`, `[`},
		{"birth date with day, no month", `"1985-07-30"`, `"1985-00-30"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(good), tt.old, tt.new, 1)
			if b == string(good) {
				t.Fatalf("%q not in the file", tt.old)
			}
			if _, err := ParsePerson([]byte(b)); !errors.Is(err, ErrInvalidPerson) {
				t.Errorf("error %v, want ErrInvalidPerson", err)
			}
		})
	}
	if _, err := LoadPerson(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestPartialBirthDate(t *testing.T) {
	good, _ := os.ReadFile(filepath.Join("testdata", "person.json"))
	tests := []struct {
		iso, text string
		want      beid.Date
	}{
		{"1985", "1985", beid.Date{Year: 1985}},
		{"1985-07", "JUL 1985", beid.Date{Year: 1985, Month: time.July}},
	}
	for _, tt := range tests {
		b := strings.Replace(string(good), `"birth_date": "1985-07-30",`, `"birth_date": "`+tt.iso+`",`, 1)
		b = strings.Replace(b, `"birth_date_text": "30 JUIL 1985",`, "", 1)
		p, err := ParsePerson([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if p.Identity.BirthDateRaw != tt.text || p.Identity.BirthDate != tt.want {
			t.Errorf("%s: birth date %q %v", tt.iso, p.Identity.BirthDateRaw, p.Identity.BirthDate)
		}
		c, err := New(Options{Profile: ProfileRSA, PKI: testPKI[ProfileRSA], Person: p})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := c.File(beid.FileIdentity)
		if id, err := beid.ParseIdentity(raw); err != nil || id.BirthDate != tt.want {
			t.Errorf("%s: read back %v, %v", tt.iso, id, err)
		}
	}
}
