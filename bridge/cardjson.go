package bridge

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Card data as the protocol sends it. Binary values are upper-case hex.
// The identity and address files have their JSON form in package beid
// (beid.Identity and beid.Address marshal themselves); what is here is
// specific to the bridge: the reader list and the integrity summaries.

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
			if beid.RecognizeATR(r.ATR) != beid.GenerationUnknown {
				typ = "beid"
			}
			j.Card = &cardInfoJSON{Type: typ, ATR: hexUpper(r.ATR)}
		}
		out = append(out, j)
	}
	return out
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// appletString turns the applet version byte (0x18) into "1.8".
func appletString(v byte) string { return fmt.Sprintf("%d.%d", v>>4, v&0x0F) }

// integrityJSON reports the checks of the RRN signatures that apply to
// what a method returned.
type integrityJSON struct {
	Valid  bool     `json:"valid"`
	Errors []string `json:"errors"`
	// Genuine is the identity method's card genuineness check (applet
	// 1.8's basic key challenge): "verified", "unavailable" (the card has
	// no basic key: applet 1.7 and older) or "failed" (the reason is in
	// Errors, and Valid is false). Other methods leave it out.
	Genuine string `json:"genuine,omitempty"`
}

// Values of integrityJSON.Genuine.
const (
	genuineVerified    = "verified"
	genuineUnavailable = "unavailable"
	genuineFailed      = "failed"
)

func genuineOf(cardAuth error) string {
	switch {
	case cardAuth == nil:
		return genuineVerified
	case errors.Is(cardAuth, beid.ErrCardAuthUnavailable):
		return genuineUnavailable
	}
	return genuineFailed
}

// cardAuthFailure is the card authentication check as a failure: nil when
// it passed or cannot apply.
func cardAuthFailure(cardAuth error) error {
	if errors.Is(cardAuth, beid.ErrCardAuthUnavailable) {
		return nil
	}
	return cardAuth
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
