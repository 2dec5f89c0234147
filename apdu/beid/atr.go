package beid

import "bytes"

// Generation is the card family an ATR announces. The ATR alone cannot tell
// applet 1.1 from 1.7 (they share it): CardData's AppletVersion can.
type Generation int

const (
	GenerationUnknown Generation = iota
	GenerationRSA                // applets 1.0–1.7, RSA keys
	GenerationECC                // applet 1.8, ECDSA P-384 keys
)

func (g Generation) String() string {
	switch g {
	case GenerationRSA:
		return "Belgian eID (applet 1.1-1.7, RSA)"
	case GenerationECC:
		return "Belgian eID (applet 1.8, ECC)"
	}
	return "unknown card"
}

// atr18 is matched exactly, as eid-mw and commons-eid do.
var atr18 = []byte{0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00}

// The older family is matched with a mask, because the interface bytes
// differ between the 2004 "EMV-compatible" ATR and the later one.
var (
	atrRSAPattern = []byte{0x3B, 0x98, 0x00, 0x40, 0x00, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x10}
	atrRSAMask    = []byte{0xFF, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0}
)

// RecognizeATR reports which Belgian eID generation atr belongs to, if any.
func RecognizeATR(atr []byte) Generation {
	if bytes.Equal(atr, atr18) {
		return GenerationECC
	}
	if len(atr) != len(atrRSAPattern) {
		return GenerationUnknown
	}
	for i := range atr {
		if atr[i]&atrRSAMask[i] != atrRSAPattern[i] {
			return GenerationUnknown
		}
	}
	return GenerationRSA
}
