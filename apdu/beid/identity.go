package beid

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tags of the identity file (3F00/DF01/4031).
const (
	tagFileVersion           = 0x00
	tagCardNumber            = 0x01
	tagChipNumber            = 0x02
	tagValidFrom             = 0x03
	tagValidUntil            = 0x04
	tagIssuingMunicipality   = 0x05
	tagNationalNumber        = 0x06
	tagSurname               = 0x07
	tagGivenNames            = 0x08
	tagThirdNameInitial      = 0x09
	tagNationality           = 0x0A
	tagBirthPlace            = 0x0B
	tagBirthDate             = 0x0C
	tagSex                   = 0x0D
	tagNobleCondition        = 0x0E
	tagDocumentType          = 0x0F
	tagSpecialStatus         = 0x10
	tagPhotoHash             = 0x11
	tagDuplicate             = 0x12
	tagSpecialOrganisation   = 0x13
	tagMemberOfFamily        = 0x14
	tagProtectionDateCountry = 0x15
	tagWorkPermit            = 0x16
	tagEmployerVAT1          = 0x17
	tagEmployerVAT2          = 0x18
	tagRegionalFileNumber    = 0x19
	tagBasicKeyHash          = 0x1A
	tagBrexitMention1        = 0x1B
	tagBrexitMention2        = 0x1C
	tagCardAMention1         = 0x1D
	tagCardAMention2         = 0x1E
	tagEUCardStartDate       = 0x1F
)

type stringField struct {
	tag byte
	s   *string
}

// stringFields lists the plain text fields of id in tag order, so that
// parsing and encoding share one table and cannot drift apart.
func (id *Identity) stringFields() []stringField {
	return []stringField{
		{tagCardNumber, &id.CardNumber},
		{tagIssuingMunicipality, &id.IssuingMunicipality},
		{tagSurname, &id.Surname},
		{tagGivenNames, &id.GivenNames},
		{tagThirdNameInitial, &id.ThirdNameInitial},
		{tagNationality, &id.Nationality},
		{tagBirthPlace, &id.BirthPlace},
		{tagNobleCondition, &id.NobleCondition},
		{tagDocumentType, &id.DocumentType},
		{tagSpecialStatus, &id.SpecialStatus},
		{tagDuplicate, &id.Duplicate},
		{tagSpecialOrganisation, &id.SpecialOrganisation},
		{tagProtectionDateCountry, &id.ProtectionDateCountry},
		{tagWorkPermit, &id.WorkPermit},
		{tagEmployerVAT1, &id.EmployerVAT1},
		{tagEmployerVAT2, &id.EmployerVAT2},
		{tagRegionalFileNumber, &id.RegionalFileNumber},
		{tagBrexitMention1, &id.BrexitMention1},
		{tagBrexitMention2, &id.BrexitMention2},
		{tagCardAMention1, &id.CardAMention1},
		{tagCardAMention2, &id.CardAMention2},
	}
}

type binaryField struct {
	tag byte
	b   *[]byte
}

func (id *Identity) binaryFields() []binaryField {
	return []binaryField{
		{tagFileVersion, &id.FileVersion},
		{tagChipNumber, &id.ChipNumber},
		{tagPhotoHash, &id.PhotoHash},
		{tagBasicKeyHash, &id.BasicKeyHash},
	}
}

type dateField struct {
	tag byte
	d   *Date
}

func (id *Identity) dateFields() []dateField {
	return []dateField{
		{tagValidFrom, &id.ValidFrom},
		{tagValidUntil, &id.ValidUntil},
		{tagEUCardStartDate, &id.EUCardStartDate},
	}
}

// ParseIdentity decodes the identity file. It accepts the file as read from
// the card, trailing zero padding included, with or without the leading
// file structure version. Unknown tags are skipped, so that files of later
// applets still parse. Text values are trimmed of surrounding spaces, as
// commons-eid does: real cards pad some of them.
//
// One odd field does not make the card unreadable. Like eid-mw, which reads
// an unknown birth month as 0, ParseIdentity keeps what it can of a field
// it cannot read and lists the field in Identity.FieldErrors: a text with
// invalid UTF-8 or control characters keeps its text with those replaced
// by U+FFFD, a sex letter or national number of the wrong form its raw
// text, a birth date its raw text (BirthDateRaw) and the parts that do
// parse, a validity date nothing. Only a file whose structure is broken,
// or that holds no identity field, fails, with an error matching
// ErrMalformed. No error quotes a field's value.
func ParseIdentity(b []byte) (*Identity, error) {
	elems, err := parseElements(b)
	if err != nil {
		return nil, fmt.Errorf("beid: identity file: %w", err)
	}
	id := new(Identity)
	strs := id.stringFields()
	bins := id.binaryFields()
	dates := id.dateFields()
	var fe fieldErrors
next:
	for _, e := range elems {
		for _, f := range strs {
			if f.tag == e.tag {
				*f.s = fe.text(e)
				continue next
			}
		}
		for _, f := range bins {
			if f.tag == e.tag {
				*f.b = append([]byte{}, e.value...)
				continue next
			}
		}
		for _, f := range dates {
			if f.tag == e.tag {
				s := fe.text(e)
				if s == "" {
					continue next
				}
				d, err := parseNumericDate(s)
				if err != nil {
					fe.add(e, err)
				}
				*f.d = d
				continue next
			}
		}
		switch e.tag {
		case tagNationalNumber:
			id.NationalNumber = fe.text(e)
			if id.NationalNumber != "" && !validNationalNumber(id.NationalNumber) {
				// The value itself stays out of the error.
				fe.add(e, fmt.Errorf("%w: national number is not 11 digits", ErrMalformed))
			}
		case tagBirthDate:
			s := fe.text(e)
			d, err := ParseBirthDate(s)
			if err != nil {
				fe.add(e, err)
				d = partialBirthDate(s)
			}
			id.BirthDate, id.BirthDateRaw = d, s
		case tagSex:
			s := fe.text(e)
			sex, err := normaliseSex(s)
			if err != nil {
				fe.add(e, err)
				sex = s
			}
			id.Sex = sex
		case tagMemberOfFamily:
			id.MemberOfFamily = true
		}
	}
	id.FieldErrors = fe
	if reflect.ValueOf(*id).IsZero() {
		return nil, fmt.Errorf("%w: identity file: no identity fields", ErrMalformed)
	}
	return id, nil
}

// FieldError reports a field of the identity or address file that did not
// read as its tag says it should. It matches ErrMalformed and never quotes
// the value.
type FieldError struct {
	Tag byte
	Err error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("beid: field %02X: %v", e.Tag, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErrors collects the FieldErrors of one file.
type fieldErrors []*FieldError

func (fe *fieldErrors) add(e element, err error) {
	*fe = append(*fe, &FieldError{Tag: e.tag, Err: err})
}

// text returns an element's value as trimmed text. Invalid UTF-8 and
// control characters become U+FFFD, with a FieldError.
func (fe *fieldErrors) text(e element) string {
	s := string(e.value)
	if err := checkText(e.tag, s); err != nil {
		fe.add(e, err)
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7F {
				return utf8.RuneError
			}
			return r
		}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	}
	return strings.Trim(s, " ")
}

// UnmarshalBinary is ParseIdentity as an encoding.BinaryUnmarshaler.
func (id *Identity) UnmarshalBinary(b []byte) error {
	p, err := ParseIdentity(b)
	if err != nil {
		return err
	}
	*id = *p
	return nil
}

// MarshalBinary encodes id as an identity file, tags in ascending order,
// without padding. Empty strings, nil byte slices and zero dates are left
// out; FileVersion, when not nil, is written first. The birth date is
// BirthDateRaw when set, else BirthDate in the Dutch form. Values that
// ParseIdentity would reject are refused with ErrMalformed, so what
// MarshalBinary writes always parses back to the same Identity (apart from
// Sex V or W, which reads back as F).
func (id *Identity) MarshalBinary() ([]byte, error) {
	if id == nil {
		return nil, fmt.Errorf("%w: nil identity", ErrMalformed)
	}
	fields := make(map[byte][]byte)
	for _, f := range id.binaryFields() {
		if *f.b != nil {
			fields[f.tag] = *f.b
		}
	}
	for _, f := range id.stringFields() {
		if *f.s != "" {
			if err := checkText(f.tag, *f.s); err != nil {
				return nil, err
			}
			fields[f.tag] = []byte(*f.s)
		}
	}
	for _, f := range id.dateFields() {
		if f.d.IsZero() {
			continue
		}
		if f.d.Day == 0 || f.d.Month == 0 || !f.d.valid() {
			return nil, fmt.Errorf("%w: identity tag %02X: not a full date", ErrMalformed, f.tag)
		}
		fields[f.tag] = []byte(formatNumericDate(*f.d))
	}
	if id.NationalNumber != "" {
		if !validNationalNumber(id.NationalNumber) {
			return nil, fmt.Errorf("%w: identity: national number is not 11 digits", ErrMalformed)
		}
		fields[tagNationalNumber] = []byte(id.NationalNumber)
	}
	birth := id.BirthDateRaw
	if birth == "" {
		if !id.BirthDate.valid() {
			return nil, fmt.Errorf("%w: identity: birth date is no date", ErrMalformed)
		}
		birth = FormatBirthDate(id.BirthDate, "nl")
	} else {
		if err := checkText(tagBirthDate, birth); err != nil {
			return nil, err
		}
		if _, err := ParseBirthDate(birth); err != nil {
			return nil, fmt.Errorf("beid: identity: %w", err)
		}
	}
	if birth != "" {
		fields[tagBirthDate] = []byte(birth)
	}
	if id.Sex != "" {
		if _, err := normaliseSex(id.Sex); err != nil {
			return nil, err
		}
		fields[tagSex] = []byte(id.Sex)
	}
	if id.MemberOfFamily {
		fields[tagMemberOfFamily] = []byte{}
	}
	var out []byte
	for tag := 0; tag <= 0xFF; tag++ {
		if v, ok := fields[byte(tag)]; ok {
			out = appendElement(out, byte(tag), v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: identity: no fields", ErrMalformed)
	}
	return out, nil
}

func checkText(tag byte, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: tag %02X: not UTF-8", ErrMalformed, tag)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7F {
			return fmt.Errorf("%w: tag %02X: control character in text", ErrMalformed, tag)
		}
	}
	return nil
}

func validNationalNumber(s string) bool {
	if len(s) != 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normaliseSex maps the card's letters to M and F: Dutch cards write V
// (vrouw) and German ones W (weiblich) for women.
func normaliseSex(s string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "M":
		return "M", nil
	case "F", "V", "W":
		return "F", nil
	}
	return "", fmt.Errorf("%w: identity: sex is not M, F, V or W", ErrMalformed)
}

// DocumentTypeName returns an English name for the document type code of
// the identity file (tag 0F, as in Identity.DocumentType), or "" for a code
// it does not know.
func DocumentTypeName(code string) string {
	n, err := strconv.Atoi(strings.TrimSpace(code))
	if err != nil {
		return ""
	}
	switch n {
	case 1:
		return "Belgian identity card"
	case 6:
		return "Kids-ID"
	case 7:
		return "Bootstrap card"
	case 8:
		return "Habilitation card"
	case 11:
		return "Foreigner card A: proof of registration, temporary residence"
	case 12:
		return "Foreigner card B: proof of registration"
	case 13:
		return "Foreigner card C: identity card for foreigners"
	case 14:
		return "Foreigner card D: long-term EU resident"
	case 15:
		return "Foreigner card E: registration certificate of an EU citizen"
	case 16:
		return "Foreigner card E+: permanent residence of an EU citizen"
	case 17:
		return "Foreigner card F: residence card of a family member of an EU citizen"
	case 18:
		return "Foreigner card F+: permanent residence card of a family member of an EU citizen"
	case 19:
		return "Foreigner card H: European blue card"
	case 20:
		return "Foreigner card I: intra-corporate transferee"
	case 21:
		return "Foreigner card J: long-term mobility of an intra-corporate transferee"
	case 22:
		return "Card M: beneficiary of the UK withdrawal agreement"
	case 23:
		return "Card N: frontier worker under the UK withdrawal agreement"
	case 27:
		return "Card K: establishment"
	case 28:
		return "Card L: long-term resident of the EU"
	case 31:
		return "EU card: registration of an EU citizen"
	case 32:
		return "EU+ card: permanent residence of an EU citizen"
	case 33:
		return "Card A: temporary residence"
	case 34:
		return "Card B: unlimited residence"
	case 35:
		return "Card F: family member of an EU citizen"
	case 36:
		return "Card F+: permanent residence of a family member of an EU citizen"
	case 61:
		return "Kids-ID for a foreign child, EU"
	case 62:
		return "Kids-ID for a foreign child, EU+"
	case 63:
		return "Kids-ID for a foreign child, A"
	case 64:
		return "Kids-ID for a foreign child, B"
	case 65:
		return "Kids-ID for a foreign child, K"
	case 66:
		return "Kids-ID for a foreign child, L"
	case 67:
		return "Kids-ID for a foreign child, F"
	case 68:
		return "Kids-ID for a foreign child, F+"
	case 69:
		return "Kids-ID for a foreign child, M"
	}
	return ""
}
