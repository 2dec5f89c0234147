package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Person is the holder data a card carries in its identity and address
// files. The simulator fills in what the card itself determines: the chip
// number (the card serial), the photo hash and, on applet 1.8, the basic key
// hash; values set for those fields here are ignored.
type Person struct {
	Identity beid.Identity
	Address  beid.Address
}

// maxValueLen is the longest value the simulator puts in one TLV field.
// Lengths of 0x80 and more are encoded differently by different readers
// (facts, open uncertainty 1), and no real field is that long.
const maxValueLen = 0x7F

// DefaultPerson returns a fictional Belgian citizen with realistic values:
// a valid national number and card number (mod-97 check digits), a Dutch
// birth date as printed on cards issued in Flanders, and a Ghent address.
func DefaultPerson() *Person {
	return &Person{
		Identity: beid.Identity{
			CardNumber:          "592047183612",
			ValidFrom:           beid.Date{Year: 2021, Month: time.March, Day: 15},
			ValidUntil:          beid.Date{Year: 2031, Month: time.March, Day: 15},
			IssuingMunicipality: "Gent",
			NationalNumber:      "90051724605",
			Surname:             "Van den Bossche",
			GivenNames:          "Lotte Marie",
			ThirdNameInitial:    "J",
			Nationality:         "Belg",
			BirthPlace:          "Gent",
			BirthDate:           beid.Date{Year: 1990, Month: time.May, Day: 17},
			BirthDateRaw:        "17 MEI 1990",
			Sex:                 "F",
			DocumentType:        "01",
			SpecialStatus:       "0",
		},
		Address: beid.Address{
			Street:       "Korenmarkt 12",
			ZipCode:      "9000",
			Municipality: "Gent",
		},
	}
}

// personJSON is the file format of LoadPerson. Dates are ISO 8601
// (YYYY-MM-DD; birth dates may be partial: YYYY-MM or YYYY).
type personJSON struct {
	CardNumber            string      `json:"card_number"`
	ValidFrom             string      `json:"valid_from"`
	ValidUntil            string      `json:"valid_until"`
	IssuingMunicipality   string      `json:"issuing_municipality"`
	NationalNumber        string      `json:"national_number"`
	Surname               string      `json:"surname"`
	GivenNames            string      `json:"given_names"`
	ThirdNameInitial      string      `json:"third_name_initial,omitempty"`
	Nationality           string      `json:"nationality"`
	BirthPlace            string      `json:"birth_place"`
	BirthDate             string      `json:"birth_date"`
	BirthDateText         string      `json:"birth_date_text,omitempty"` // as printed; default Dutch form "17 MEI 1990"
	Sex                   string      `json:"sex"`
	NobleCondition        string      `json:"noble_condition,omitempty"`
	DocumentType          string      `json:"document_type"`
	SpecialStatus         string      `json:"special_status,omitempty"`
	Duplicate             string      `json:"duplicate,omitempty"`
	SpecialOrganisation   string      `json:"special_organisation,omitempty"`
	MemberOfFamily        bool        `json:"member_of_family,omitempty"`
	ProtectionDateCountry string      `json:"protection_date_country,omitempty"`
	WorkPermit            string      `json:"work_permit,omitempty"`
	EmployerVAT1          string      `json:"employer_vat_1,omitempty"`
	EmployerVAT2          string      `json:"employer_vat_2,omitempty"`
	RegionalFileNumber    string      `json:"regional_file_number,omitempty"`
	BrexitMention1        string      `json:"brexit_mention_1,omitempty"`
	BrexitMention2        string      `json:"brexit_mention_2,omitempty"`
	CardAMention1         string      `json:"card_a_mention_1,omitempty"`
	CardAMention2         string      `json:"card_a_mention_2,omitempty"`
	EUCardStartDate       string      `json:"eu_card_start_date,omitempty"`
	Address               addressJSON `json:"address"`
}

type addressJSON struct {
	Street       string `json:"street"`
	ZipCode      string `json:"zip_code"`
	Municipality string `json:"municipality"`
}

// LoadPerson reads a person from a JSON file; see testdata/person.json for
// the format. Unknown fields are an error so that a typo does not silently
// drop a value.
func LoadPerson(path string) (*Person, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	p, err := ParsePerson(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePerson decodes the JSON form LoadPerson reads and validates it.
func ParsePerson(b []byte) (*Person, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j personJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPerson, err)
	}
	p := &Person{
		Identity: beid.Identity{
			CardNumber:            j.CardNumber,
			IssuingMunicipality:   j.IssuingMunicipality,
			NationalNumber:        j.NationalNumber,
			Surname:               j.Surname,
			GivenNames:            j.GivenNames,
			ThirdNameInitial:      j.ThirdNameInitial,
			Nationality:           j.Nationality,
			BirthPlace:            j.BirthPlace,
			BirthDateRaw:          j.BirthDateText,
			Sex:                   j.Sex,
			NobleCondition:        j.NobleCondition,
			DocumentType:          j.DocumentType,
			SpecialStatus:         j.SpecialStatus,
			Duplicate:             j.Duplicate,
			SpecialOrganisation:   j.SpecialOrganisation,
			MemberOfFamily:        j.MemberOfFamily,
			ProtectionDateCountry: j.ProtectionDateCountry,
			WorkPermit:            j.WorkPermit,
			EmployerVAT1:          j.EmployerVAT1,
			EmployerVAT2:          j.EmployerVAT2,
			RegionalFileNumber:    j.RegionalFileNumber,
			BrexitMention1:        j.BrexitMention1,
			BrexitMention2:        j.BrexitMention2,
			CardAMention1:         j.CardAMention1,
			CardAMention2:         j.CardAMention2,
		},
		Address: beid.Address{Street: j.Address.Street, ZipCode: j.Address.ZipCode, Municipality: j.Address.Municipality},
	}
	dates := []struct {
		name    string
		s       string
		dst     *beid.Date
		partial bool
	}{
		{"valid_from", j.ValidFrom, &p.Identity.ValidFrom, false},
		{"valid_until", j.ValidUntil, &p.Identity.ValidUntil, false},
		{"birth_date", j.BirthDate, &p.Identity.BirthDate, true},
		{"eu_card_start_date", j.EUCardStartDate, &p.Identity.EUCardStartDate, false},
	}
	for _, d := range dates {
		if d.s == "" {
			continue
		}
		var err error
		if *d.dst, err = parseISODate(d.s, d.partial); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidPerson, d.name, err)
		}
	}
	if p.Identity.BirthDateRaw == "" {
		// Cards issued in Flanders print the birth date in Dutch.
		p.Identity.BirthDateRaw = beid.FormatBirthDate(p.Identity.BirthDate, "nl")
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// parseISODate reads YYYY-MM-DD, and when partial is set also YYYY-MM and
// YYYY, leaving the missing parts zero as beid.Date does.
func parseISODate(s string, partial bool) (beid.Date, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 3 || (!partial && len(parts) != 3) {
		return beid.Date{}, fmt.Errorf("%q is not YYYY-MM-DD", s)
	}
	var n [3]int
	for i, part := range parts {
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return beid.Date{}, fmt.Errorf("%q is not a date", s)
		}
		n[i] = v
	}
	d := beid.Date{Year: n[0], Month: time.Month(n[1]), Day: n[2]}
	if d.Year < 1800 || d.Year > 9999 || d.Month > 12 || d.Day > 31 || (len(parts) == 3 && (d.Month == 0 || d.Day == 0)) {
		return beid.Date{}, fmt.Errorf("%q is out of range", s)
	}
	if d.Month != 0 && d.Day != 0 {
		if t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC); t.Day() != d.Day {
			return beid.Date{}, fmt.Errorf("%q does not exist", s)
		}
	}
	return d, nil
}

// validate checks what a card must carry (the mandatory tags of facts §4)
// and that every value fits the simulator's one-byte TLV lengths.
func (p *Person) validate() error {
	id, a := &p.Identity, &p.Address
	required := []struct{ name, v string }{
		{"card number", id.CardNumber},
		{"national number", id.NationalNumber},
		{"surname", id.Surname},
		{"nationality", id.Nationality},
		{"sex", id.Sex},
		{"document type", id.DocumentType},
		{"birth date", id.BirthDateRaw},
		{"street", a.Street},
		{"zip code", a.ZipCode},
		{"municipality", a.Municipality},
	}
	for _, r := range required {
		if r.v == "" {
			return fmt.Errorf("%w: %s missing", ErrInvalidPerson, r.name)
		}
	}
	if id.ValidFrom.Year == 0 || id.ValidUntil.Year == 0 {
		return fmt.Errorf("%w: card validity missing", ErrInvalidPerson)
	}
	switch id.Sex {
	case "M", "F", "V", "W":
	default:
		return fmt.Errorf("%w: sex %q (want M, F, V or W)", ErrInvalidPerson, id.Sex)
	}
	for _, s := range []string{id.CardNumber, id.IssuingMunicipality, id.NationalNumber, id.Surname,
		id.GivenNames, id.ThirdNameInitial, id.Nationality, id.BirthPlace, id.BirthDateRaw, id.NobleCondition,
		id.DocumentType, id.SpecialStatus, id.Duplicate, id.SpecialOrganisation, id.ProtectionDateCountry,
		id.WorkPermit, id.EmployerVAT1, id.EmployerVAT2, id.RegionalFileNumber, id.BrexitMention1,
		id.BrexitMention2, id.CardAMention1, id.CardAMention2, a.Street, a.ZipCode, a.Municipality} {
		if len(s) > maxValueLen {
			return fmt.Errorf("%w: value of %d bytes is longer than %d", ErrInvalidPerson, len(s), maxValueLen)
		}
	}
	return nil
}

// clone returns a deep enough copy of p for the card to fill in its own
// fields without touching the caller's value.
func (p *Person) clone() *Person {
	c := *p
	c.Identity.FileVersion = bytes.Clone(p.Identity.FileVersion)
	c.Identity.ChipNumber = bytes.Clone(p.Identity.ChipNumber)
	c.Identity.PhotoHash = bytes.Clone(p.Identity.PhotoHash)
	c.Identity.BasicKeyHash = bytes.Clone(p.Identity.BasicKeyHash)
	c.Address.FileVersion = bytes.Clone(p.Address.FileVersion)
	return &c
}

// validity returns the card validity as times, for the citizen
// certificates.
func (p *Person) validity() (notBefore, notAfter time.Time) {
	d := func(d beid.Date) time.Time {
		return time.Date(d.Year, max(d.Month, 1), max(d.Day, 1), 0, 0, 0, 0, time.UTC)
	}
	return d(p.Identity.ValidFrom), d(p.Identity.ValidUntil).Add(24*time.Hour - time.Second)
}
