package sim

import (
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Profile is the card generation the simulator plays.
type Profile int

const (
	// ProfileRSA is an applet 1.7 card: RSA-2048 keys, PKCS#1 v1.5 and PSS
	// signatures, the ATR shared by applets 1.1 and 1.7 (facts §1).
	ProfileRSA Profile = iota + 1
	// ProfileECC is an applet 1.8 card: ECDSA P-384 keys, r||s signatures,
	// a basic key for card authentication (facts §1, §6).
	ProfileECC
	// ProfileRSAECRRN is an applet 1.7 card as issued since about 2022:
	// RSA-2048 card keys like ProfileRSA, but the National Register signs
	// its identity and address files with ECDSA P-384 (DER zero-padded to
	// 256 bytes) and the photo hash is SHA-256, as on the 2022 card of
	// commons-eid's test data (commons-eid-consumer test resources
	// test-eid-v17-ec_*).
	ProfileRSAECRRN
)

// ATRs as real cards send them (facts §1).
var (
	atrRSA = []byte{0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11}
	atrECC = []byte{0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00}
)

// Profiles lists every profile, in the order of their introduction.
var Profiles = []Profile{ProfileRSA, ProfileECC, ProfileRSAECRRN}

// ParseProfile accepts "rsa" or "1.7" for ProfileRSA, "ecc" or "1.8" for
// ProfileECC and "rsa-ecrrn" for ProfileRSAECRRN, ignoring case and
// surrounding space.
func ParseProfile(s string) (Profile, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "rsa", "1.7":
		return ProfileRSA, nil
	case "ecc", "1.8":
		return ProfileECC, nil
	case "rsa-ecrrn":
		return ProfileRSAECRRN, nil
	}
	return 0, fmt.Errorf("%w: %q (want rsa, 1.7, ecc, 1.8 or rsa-ecrrn)", ErrUnknownProfile, s)
}

// String returns "rsa", "ecc" or "rsa-ecrrn", the names ParseProfile accepts.
func (p Profile) String() string {
	switch p {
	case ProfileRSA:
		return "rsa"
	case ProfileECC:
		return "ecc"
	case ProfileRSAECRRN:
		return "rsa-ecrrn"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// AppletVersion is the applet version byte the profile reports in GET CARD
// DATA byte 21 (facts §7): beid.Applet17 or beid.Applet18.
func (p Profile) AppletVersion() byte {
	if p == ProfileECC {
		return beid.Applet18
	}
	return beid.Applet17
}

func (p Profile) valid() bool { return p == ProfileRSA || p == ProfileECC || p == ProfileRSAECRRN }

// ecRRN reports whether the National Register key is ECDSA P-384.
func (p Profile) ecRRN() bool { return p == ProfileECC || p == ProfileRSAECRRN }

// atr returns a fresh copy of the profile's ATR.
func (p Profile) atr() []byte {
	if p == ProfileECC {
		return append([]byte(nil), atrECC...)
	}
	return append([]byte(nil), atrRSA...)
}

// certPadding is the number of zero bytes a certificate file carries after
// the DER (facts §3): 50 on applet 1.7, 1100 on applet 1.8.
func (p Profile) certPadding() int {
	if p == ProfileECC {
		return 1100
	}
	return 50
}
