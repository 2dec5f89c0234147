package beid

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/apdu"
)

// PIN length limits of the BELPIC cardholder PIN.
const (
	MinPINLength = 4
	MaxPINLength = 12
	// MaxPINTries is the cardholder PIN's try counter after a successful
	// verification.
	MaxPINTries = 3
)

// pinRef is the reference of the cardholder PIN, the card's only user PIN.
const pinRef = 0x01

// pinBlock encodes pin in the 8-byte GlobalPlatform "format 2" block the
// card wants: nibble 2, the length, the BCD digits, F padding. PIN 1234 is
// 24 12 34 FF FF FF FF FF. Malformed input fails before anything is sent,
// so it never costs a try.
func pinBlock(pin []byte) (b [8]byte, err error) {
	if len(pin) < MinPINLength || len(pin) > MaxPINLength {
		return b, ErrInvalidPIN
	}
	for i := range b {
		b[i] = 0xFF
	}
	b[0] = 0x20 | byte(len(pin))
	for i, d := range pin {
		if d < '0' || d > '9' {
			clear(b[:])
			return b, ErrInvalidPIN
		}
		nib := d - '0'
		if i%2 == 0 {
			b[1+i/2] = nib<<4 | 0x0F
		} else {
			b[1+i/2] = b[1+i/2]&0xF0 | nib
		}
	}
	return b, nil
}

// verifyResult maps the status word of a VERIFY to this package's errors.
func verifyResult(sw apdu.StatusWord) error {
	if n, ok := sw.RetriesLeft(); ok {
		return &PINError{TriesLeft: n}
	}
	switch sw {
	case apdu.SWOK:
		return nil
	case apdu.SWAuthMethodBlocked:
		return &PINError{TriesLeft: 0}
	}
	return fmt.Errorf("beid: VERIFY: %w", sw.Err())
}

// VerifyPIN presents pin (ASCII digits) to the card. A wrong PIN gives a
// *PINError. The PIN is checked for form first, so malformed input never
// costs a try. VerifyPIN keeps no copy of the PIN: the buffers it builds are
// wiped before it returns. The caller owns pin and should wipe it too.
func (c *Card) VerifyPIN(ctx context.Context, pin []byte) error {
	block, err := pinBlock(pin)
	if err != nil {
		return err
	}
	var cmd [5 + 8]byte
	cmd[0], cmd[1], cmd[2], cmd[3], cmd[4] = 0x00, apdu.InsVerify, 0x00, pinRef, 8
	copy(cmd[5:], block[:])
	clear(block[:])
	// The APDU is built here rather than with apdu.Command so that no
	// copy of the PIN block outlives this call.
	defer clear(cmd[:])
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := c.t.Transmit(ctx, cmd[:])
	if err != nil {
		return fmt.Errorf("beid: VERIFY: %w", err)
	}
	resp, err := apdu.ParseResponse(raw)
	if err != nil {
		return fmt.Errorf("beid: VERIFY: %w", err)
	}
	return verifyResult(resp.SW)
}

// PINTriesLeft reports the PIN tries left without spending one. It returns
// ErrPINBlocked when none are left.
//
// Applet 1.8 cards are asked with GET CARD DATA (P2=01). Applet 1.7 cards
// are sent a VERIFY without data, which the card answers with the count
// unless the PIN is already verified in this session; then the result is
// MaxPINTries, which is exact: a successful verification resets the counter
// and a later wrong one would have ended the verified state. Applet 1.1
// counts an empty VERIFY as a wrong PIN, so there it is ErrUnsupported.
func (c *Card) PINTriesLeft(ctx context.Context) (int, error) {
	cd, err := c.CardData(ctx)
	if err != nil {
		return 0, err
	}
	switch {
	case cd.AppletVersion < Applet17:
		return 0, fmt.Errorf("%w: applet %X cannot report PIN tries safely", ErrUnsupported, cd.AppletVersion)
	case cd.ECC():
		b, err := c.getCardData(ctx, 0x01, cardDataTriesLen)
		if err != nil {
			return 0, err
		}
		full, err := ParseCardData(b)
		if err != nil {
			return 0, err
		}
		if full.PINTriesLeft >= 0 {
			if full.PINTriesLeft == 0 {
				return 0, ErrPINBlocked
			}
			return full.PINTriesLeft, nil
		}
		// No count in the answer: fall through to the empty VERIFY,
		// which applet 1.8 also supports.
	}
	resp, err := c.x.Exchange(ctx, c.t, apdu.Command{CLA: 0x00, INS: apdu.InsVerify, P1: 0x00, P2: pinRef})
	if err != nil {
		return 0, fmt.Errorf("beid: VERIFY: %w", err)
	}
	if resp.SW == apdu.SWOK {
		return MaxPINTries, nil
	}
	err = verifyResult(resp.SW)
	if pe, ok := err.(*PINError); ok {
		if pe.TriesLeft == 0 {
			return 0, ErrPINBlocked
		}
		return pe.TriesLeft, nil
	}
	return 0, err
}

// Values of the PC/SC part 10 PIN_VERIFY_STRUCTURE for the BELPIC PIN, as
// the official middleware sends them.
const (
	pinpadTimeout = 30 // seconds, before and after the first key
	// bmFormatString: units are bytes (0x80), the PIN starts one unit
	// after the header (1<<3), left justified, BCD (0x01).
	pinpadFormat = 0x89
	// pinpadFormatSPR532 is the plain BCD form that SCM's SPR532
	// ("SPRx32 USB") wants below firmware 5.06, where eid-mw
	// (cardcomm/pkcs11/src/cardlayer/pinpad.cpp, ToFormatString) sends it.
	pinpadFormatSPR532 = 0x01
	spr532Firmware     = 0x0506
	// bmPINBlockString: the length is a 4-bit field (4<<4) and the PIN
	// block is 7 bytes after the length byte (0x07).
	pinpadBlock = 0x47
	// bmPINLengthFormat: the length nibble sits 4 bits into the block.
	pinpadLengthFormat = 0x04
	// bEntryValidationCondition: the user confirms with the OK key.
	pinpadValidation = 0x02
	// gemPCPinpadMaxPIN is the longest PIN the Gemplus GemPC Pinpad takes
	// (e-Contract commons-eid, GemplusGemPCPinpad: wPINMaxExtraDigit 04 08).
	gemPCPinpadMaxPIN = 8
)

// Windows language identifiers (wLangId) for the reader's own prompts:
// Belgian Dutch and French, German, US English.
var pinpadLangIDs = map[string]uint16{"nl": 0x0813, "fr": 0x080C, "de": 0x0407, "en": 0x0409}

// PinpadOptions adapt a pinpad PIN entry to the reader and to the user.
type PinpadOptions struct {
	// Reader is the reader's PC/SC name, which selects the per-reader
	// fixes of the official middleware.
	Reader string
	// Firmware is the reader's firmware version as major<<8|minor (the
	// high half of SCARD_ATTR_VENDOR_IFD_VERSION), 0 when unknown.
	Firmware uint16
	// Language is the user's language, "nl", "fr", "de" or "en", in which
	// a reader with a display shows its prompts; others mean English.
	Language string
}

// A PinpadReader is a Pinpad that can tell which reader it is, for
// PinpadOptions.Reader and Firmware.
type PinpadReader interface {
	Pinpad
	PinpadReader(ctx context.Context) (name string, firmware uint16)
}

// PinpadVerifyStructure returns the PIN_VERIFY_STRUCTURE (PC/SC part 10,
// FEATURE_VERIFY_PIN_DIRECT) that makes a pinpad reader collect the BELPIC
// PIN and send the VERIFY itself. 16-bit and 32-bit fields are little
// endian, as CCID has them. The embedded APDU is VERIFY with an empty PIN
// block (20 FF..FF); the reader writes the length nibble and the digits.
// Two readers get the fixes of the official middleware: SCM's "SPRx32 USB"
// below firmware 5.06 the plain BCD format string, the "Gemplus GemPC
// Pinpad" at most 8 digits.
func PinpadVerifyStructure(o PinpadOptions) []byte {
	format := byte(pinpadFormat)
	if o.Firmware != 0 && o.Firmware < spr532Firmware && strings.Contains(o.Reader, "SPRx32 USB") {
		format = pinpadFormatSPR532
	}
	maxLen := MaxPINLength
	if strings.HasPrefix(o.Reader, "Gemplus GemPC Pinpad") {
		maxLen = gemPCPinpadMaxPIN
	}
	lang, ok := pinpadLangIDs[strings.ToLower(o.Language)]
	if !ok {
		lang = pinpadLangIDs["en"]
	}
	verify := []byte{0x00, apdu.InsVerify, 0x00, pinRef, 0x08, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	b := []byte{
		pinpadTimeout,      // bTimerOut
		pinpadTimeout,      // bTimerOut2
		format,             // bmFormatString
		pinpadBlock,        // bmPINBlockString
		pinpadLengthFormat, // bmPINLengthFormat
	}
	// wPINMaxExtraDigit is 0xXXYY with XX the minimum and YY the maximum
	// length, so its little-endian bytes are max, min: 0C 04.
	b = binary.LittleEndian.AppendUint16(b, uint16(MinPINLength<<8|maxLen))
	b = append(b, pinpadValidation, 0x01) // bEntryValidationCondition, bNumberMessage
	b = binary.LittleEndian.AppendUint16(b, lang)
	b = append(b, 0x00)             // bMsgIndex
	b = append(b, 0x00, 0x00, 0x00) // bTeoPrologue: T=0, no prologue
	b = binary.LittleEndian.AppendUint32(b, uint32(len(verify)))
	return append(b, verify...)
}

// Status words of the pinpad reader itself (PC/SC part 10), as opposed to
// the card's.
const (
	swPinpadTimeout   apdu.StatusWord = 0x6400
	swPinpadCancelled apdu.StatusWord = 0x6401
	swPinpadMismatch  apdu.StatusWord = 0x6402
	swPinpadFormat    apdu.StatusWord = 0x6403
)

// VerifyPINPinpad lets the user enter the PIN on the reader's keypad, the
// reader's prompts in lang (the user's language: "nl", "fr", "de" or
// "en"). When p is a PinpadReader, the entry gets the fixes for that
// reader (see PinpadVerifyStructure). The card's answer is reported as
// VerifyPIN does; a timeout or a cancel on the keypad gives
// ErrPinpadTimeout or ErrPinpadCancelled, and a PIN of the wrong length
// ErrInvalidPIN. None of these spends a try.
func (c *Card) VerifyPINPinpad(ctx context.Context, p Pinpad, lang string) error {
	if p == nil {
		return fmt.Errorf("%w: no pinpad", ErrUnsupported)
	}
	o := PinpadOptions{Language: lang}
	if r, ok := p.(PinpadReader); ok {
		o.Reader, o.Firmware = r.PinpadReader(ctx)
	}
	raw, err := p.VerifyPINDirect(ctx, PinpadVerifyStructure(o))
	if err != nil {
		return fmt.Errorf("beid: pinpad: %w", err)
	}
	resp, err := apdu.ParseResponse(raw)
	if err != nil {
		return fmt.Errorf("beid: pinpad: %w", err)
	}
	switch resp.SW {
	case swPinpadTimeout:
		return ErrPinpadTimeout
	case swPinpadCancelled:
		return ErrPinpadCancelled
	case swPinpadFormat, swPinpadMismatch:
		return fmt.Errorf("%w: %w", ErrInvalidPIN, resp.SW.Err())
	}
	return verifyResult(resp.SW)
}
