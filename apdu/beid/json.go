package beid

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
)

// The JSON forms below are what cardbridge shows pages and users: camelCase
// names, dates in ISO 8601 (partial birth dates shortened to YYYY-MM or
// YYYY), binary values as upper-case hex. Fields every card carries are
// always present; the rest only when the card has them. docs/protocol.md
// (the identity and address methods) is the contract these follow.

// MarshalJSON encodes d in ISO 8601: YYYY-MM-DD, YYYY-MM or YYYY, and ""
// when unknown. Unlike String, a day whose month is unknown is dropped
// ("1950", not "1950-00-15"): ISO 8601 has no form for it, and pages
// parse these values as dates.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.Month == 0 {
		d.Day = 0
	}
	return json.Marshal(d.String())
}

type identityJSON struct {
	CardNumber          string `json:"cardNumber"`
	ChipNumber          string `json:"chipNumber"`
	ValidFrom           Date   `json:"validFrom"`
	ValidUntil          Date   `json:"validUntil"`
	IssuingMunicipality string `json:"issuingMunicipality"`
	NationalNumber      string `json:"nationalNumber"`
	Surname             string `json:"surname"`
	GivenNames          string `json:"givenNames"`
	ThirdNameInitial    string `json:"thirdNameInitial"`
	Nationality         string `json:"nationality"`
	BirthPlace          string `json:"birthPlace"`
	BirthDate           Date   `json:"birthDate"`
	Sex                 string `json:"sex"`
	NobleCondition      string `json:"nobleCondition"`
	DocumentType        string `json:"documentType"`
	DocumentTypeName    string `json:"documentTypeName"`
	SpecialStatus       string `json:"specialStatus"`

	PhotoHash             string `json:"photoHash,omitempty"`
	Duplicate             string `json:"duplicate,omitempty"`
	SpecialOrganisation   string `json:"specialOrganisation,omitempty"`
	MemberOfFamily        bool   `json:"memberOfFamily,omitempty"`
	ProtectionDateCountry string `json:"protectionDateCountry,omitempty"`
	WorkPermit            string `json:"workPermit,omitempty"`
	EmployerVAT1          string `json:"employerVat1,omitempty"`
	EmployerVAT2          string `json:"employerVat2,omitempty"`
	RegionalFileNumber    string `json:"regionalFileNumber,omitempty"`
	BasicKeyHash          string `json:"basicKeyHash,omitempty"`
	BrexitMention1        string `json:"brexitMention1,omitempty"`
	BrexitMention2        string `json:"brexitMention2,omitempty"`
	CardAMention1         string `json:"cardAMention1,omitempty"`
	CardAMention2         string `json:"cardAMention2,omitempty"`
	EUCardStartDate       *Date  `json:"euCardStartDate,omitempty"`

	// InvalidFields names, by their JSON names, the fields that did not
	// read as they should (Identity.FieldErrors).
	InvalidFields []string `json:"invalidFields,omitempty"`
}

// identityJSONNames are the JSON names of the identity file's tags, for
// invalidFields.
var identityJSONNames = map[byte]string{
	tagCardNumber: "cardNumber", tagValidFrom: "validFrom", tagValidUntil: "validUntil",
	tagIssuingMunicipality: "issuingMunicipality", tagNationalNumber: "nationalNumber",
	tagSurname: "surname", tagGivenNames: "givenNames", tagThirdNameInitial: "thirdNameInitial",
	tagNationality: "nationality", tagBirthPlace: "birthPlace", tagBirthDate: "birthDate",
	tagSex: "sex", tagNobleCondition: "nobleCondition", tagDocumentType: "documentType",
	tagSpecialStatus: "specialStatus", tagDuplicate: "duplicate",
	tagSpecialOrganisation: "specialOrganisation", tagProtectionDateCountry: "protectionDateCountry",
	tagWorkPermit: "workPermit", tagEmployerVAT1: "employerVat1", tagEmployerVAT2: "employerVat2",
	tagRegionalFileNumber: "regionalFileNumber", tagBrexitMention1: "brexitMention1",
	tagBrexitMention2: "brexitMention2", tagCardAMention1: "cardAMention1",
	tagCardAMention2: "cardAMention2", tagEUCardStartDate: "euCardStartDate",
}

var addressJSONNames = map[byte]string{tagAddrStreet: "street", tagAddrZipCode: "zipCode", tagAddrMunicipality: "municipality"}

// InvalidFields names, by their JSON names, the fields of FieldErrors.
func (id *Identity) InvalidFields() []string {
	return invalidFields(id.FieldErrors, identityJSONNames)
}

// InvalidFields names, by their JSON names, the fields of FieldErrors.
func (a *Address) InvalidFields() []string { return invalidFields(a.FieldErrors, addressJSONNames) }

// invalidFields lists the JSON names of the fields in errs, once each.
func invalidFields(errs []*FieldError, names map[byte]string) []string {
	var out []string
	for _, fe := range errs {
		n := names[fe.Tag]
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// MarshalJSON encodes the identity in cardbridge's JSON form.
func (id *Identity) MarshalJSON() ([]byte, error) {
	j := identityJSON{
		CardNumber:            id.CardNumber,
		ChipNumber:            hexUpper(id.ChipNumber),
		ValidFrom:             id.ValidFrom,
		ValidUntil:            id.ValidUntil,
		IssuingMunicipality:   id.IssuingMunicipality,
		NationalNumber:        id.NationalNumber,
		Surname:               id.Surname,
		GivenNames:            id.GivenNames,
		ThirdNameInitial:      id.ThirdNameInitial,
		Nationality:           id.Nationality,
		BirthPlace:            id.BirthPlace,
		BirthDate:             id.BirthDate,
		Sex:                   id.Sex,
		NobleCondition:        id.NobleCondition,
		DocumentType:          id.DocumentType,
		DocumentTypeName:      DocumentTypeName(id.DocumentType),
		SpecialStatus:         id.SpecialStatus,
		PhotoHash:             hexUpper(id.PhotoHash),
		Duplicate:             id.Duplicate,
		SpecialOrganisation:   id.SpecialOrganisation,
		MemberOfFamily:        id.MemberOfFamily,
		ProtectionDateCountry: id.ProtectionDateCountry,
		WorkPermit:            id.WorkPermit,
		EmployerVAT1:          id.EmployerVAT1,
		EmployerVAT2:          id.EmployerVAT2,
		RegionalFileNumber:    id.RegionalFileNumber,
		BasicKeyHash:          hexUpper(id.BasicKeyHash),
		BrexitMention1:        id.BrexitMention1,
		BrexitMention2:        id.BrexitMention2,
		CardAMention1:         id.CardAMention1,
		CardAMention2:         id.CardAMention2,
	}
	j.InvalidFields = id.InvalidFields()
	if !id.EUCardStartDate.IsZero() {
		j.EUCardStartDate = &id.EUCardStartDate
	}
	return json.Marshal(j)
}

// MarshalJSON encodes the address in cardbridge's JSON form.
func (a *Address) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Street        string   `json:"street"`
		ZipCode       string   `json:"zipCode"`
		Municipality  string   `json:"municipality"`
		InvalidFields []string `json:"invalidFields,omitempty"`
	}{a.Street, a.ZipCode, a.Municipality, a.InvalidFields()})
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
