package bridge

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Card data as the protocol sends it. Binary values are upper-case hex,
// dates ISO 8601, possibly partial for birth dates.

type readerJSON struct {
	Name        string        `json:"name"`
	CardPresent bool          `json:"cardPresent"`
	Card        *cardInfoJSON `json:"card"` // null without a card
	Pinpad      bool          `json:"pinpad"`
}

type cardInfoJSON struct {
	Type string `json:"type"` // "beid" or "unknown"
	ATR  string `json:"atr"`
}

func readersJSON(list []ReaderInfo) []readerJSON {
	out := make([]readerJSON, 0, len(list))
	for _, r := range list {
		j := readerJSON{Name: r.Name, CardPresent: r.CardPresent, Pinpad: r.Pinpad}
		if r.CardPresent {
			typ := "unknown"
			if isBelpicATR(r.ATR) {
				typ = "beid"
			}
			j.Card = &cardInfoJSON{Type: typ, ATR: hexUpper(r.ATR)}
		}
		out = append(out, j)
	}
	return out
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// isoDate formats a possibly partial date: YYYY-MM-DD, YYYY-MM or YYYY, or
// "" when unknown.
func isoDate(d beid.Date) string {
	switch {
	case d.Year == 0:
		return ""
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// appletString turns the applet version byte (0x18) into "1.8".
func appletString(v byte) string { return fmt.Sprintf("%d.%d", v>>4, v&0x0F) }

// identityJSON is the identity file. The fields every card has are always
// present; the rest only when the card carries them.
type identityJSON struct {
	CardNumber          string `json:"cardNumber"`
	ChipNumber          string `json:"chipNumber"`
	ValidFrom           string `json:"validFrom"`
	ValidUntil          string `json:"validUntil"`
	IssuingMunicipality string `json:"issuingMunicipality"`
	NationalNumber      string `json:"nationalNumber"`
	Surname             string `json:"surname"`
	GivenNames          string `json:"givenNames"`
	ThirdNameInitial    string `json:"thirdNameInitial"`
	Nationality         string `json:"nationality"`
	BirthPlace          string `json:"birthPlace"`
	BirthDate           string `json:"birthDate"`
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
	EUCardStartDate       string `json:"euCardStartDate,omitempty"`
}

func identityToJSON(id *beid.Identity) identityJSON {
	return identityJSON{
		CardNumber:            id.CardNumber,
		ChipNumber:            hexUpper(id.ChipNumber),
		ValidFrom:             isoDate(id.ValidFrom),
		ValidUntil:            isoDate(id.ValidUntil),
		IssuingMunicipality:   id.IssuingMunicipality,
		NationalNumber:        id.NationalNumber,
		Surname:               id.Surname,
		GivenNames:            id.GivenNames,
		ThirdNameInitial:      id.ThirdNameInitial,
		Nationality:           id.Nationality,
		BirthPlace:            id.BirthPlace,
		BirthDate:             isoDate(id.BirthDate),
		Sex:                   id.Sex,
		NobleCondition:        id.NobleCondition,
		DocumentType:          id.DocumentType,
		DocumentTypeName:      beid.DocumentTypeName(id.DocumentType),
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
		EUCardStartDate:       isoDate(id.EUCardStartDate),
	}
}

type addressJSON struct {
	Street       string `json:"street"`
	ZipCode      string `json:"zipCode"`
	Municipality string `json:"municipality"`
}

// integrityJSON reports the checks of the RRN signatures that apply to
// what a method returned.
type integrityJSON struct {
	Valid  bool     `json:"valid"`
	Errors []string `json:"errors"`
}

func integrityOf(checks ...error) integrityJSON {
	j := integrityJSON{Valid: true, Errors: []string{}}
	for _, err := range checks {
		if err != nil {
			j.Valid = false
			j.Errors = append(j.Errors, err.Error())
		}
	}
	return j
}

// maskNationalNumber keeps the birth-date part of a national number
// (YYMMDD) and hides the rest, for logs.
func maskNationalNumber(nn string) string {
	if len(nn) <= 6 {
		return strings.Repeat("*", len(nn))
	}
	return nn[:6] + strings.Repeat("*", len(nn)-6)
}
