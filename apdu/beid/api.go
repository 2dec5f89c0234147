package beid

// This file holds the package's public types. The Card methods live in
// files named after what they do (files.go, carddata.go, pin.go, sign.go).

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
)

// Transmitter is the one thing the driver needs from a reader: send a
// command APDU, get the response APDU. A PC/SC card handle, a vpcd-connected
// card or the in-process simulator all satisfy it.
type Transmitter = apdu.Transmitter

// File identifies an elementary file of the card by its absolute path.
type File struct {
	Name string   // short English name, used in errors and logs
	Path []uint16 // absolute path from the MF, MF included
}

// The files of the BELPIC application.
var (
	FileIdentity          = File{"identity", []uint16{0x3F00, 0xDF01, 0x4031}}
	FileIdentitySignature = File{"identity signature", []uint16{0x3F00, 0xDF01, 0x4032}}
	FileAddress           = File{"address", []uint16{0x3F00, 0xDF01, 0x4033}}
	FileAddressSignature  = File{"address signature", []uint16{0x3F00, 0xDF01, 0x4034}}
	FilePhoto             = File{"photo", []uint16{0x3F00, 0xDF01, 0x4035}}
	FileBasicPublicKey    = File{"basic public key", []uint16{0x3F00, 0xDF01, 0x4040}} // applet 1.8 only
	FileAuthCert          = File{"authentication certificate", []uint16{0x3F00, 0xDF00, 0x5038}}
	FileSignCert          = File{"signature certificate", []uint16{0x3F00, 0xDF00, 0x5039}}
	FileCACert            = File{"CA certificate", []uint16{0x3F00, 0xDF00, 0x503A}}
	FileRootCert          = File{"root certificate", []uint16{0x3F00, 0xDF00, 0x503B}}
	FileRRNCert           = File{"RRN certificate", []uint16{0x3F00, 0xDF00, 0x503C}}
)

// Key is a private key reference on the card.
type Key byte

const (
	KeyAuthentication Key = 0x82 // authentication key; one PIN verification per card session
	KeySignature      Key = 0x83 // non-repudiation key; a PIN verification right before each signature
)

// Applet versions as reported in GET CARD DATA byte 21.
const (
	Applet11 = 0x11
	Applet17 = 0x17
	Applet18 = 0x18
)

// CardData is the answer to GET CARD DATA.
type CardData struct {
	Serial         []byte // 16-byte chip serial number, equal to the identity file's chip number
	ComponentCode  byte
	OSNumber       byte
	OSVersion      byte
	SoftmaskNumber byte
	SoftmaskVer    byte
	AppletVersion  byte // Applet11, Applet17, Applet18 or a later one
	GlobalOSVer    uint16
	AppletIntfVer  byte
	PKCS1Support   byte
	KeyExchangeVer byte
	LifeCycle      byte
	PINTriesLeft   int // applet 1.8 only (P2=01); -1 when not reported
}

// Date is a possibly partial calendar date as printed on the card: the birth
// date of some citizens has no day or no month. Zero fields are unknown.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Identity is the content of the identity file (3F00/DF01/4031), every tag
// the card may carry. String fields are empty when the tag is absent.
type Identity struct {
	FileVersion           []byte
	CardNumber            string
	ChipNumber            []byte
	ValidFrom             Date
	ValidUntil            Date
	IssuingMunicipality   string
	NationalNumber        string
	Surname               string
	GivenNames            string // first two given names
	ThirdNameInitial      string
	Nationality           string
	BirthPlace            string
	BirthDate             Date
	BirthDateRaw          string // as printed, e.g. "01 JAN 1990", "01.MÄR.1990"
	Sex                   string // "M" or "F" (the card's V and W are reported as F)
	NobleCondition        string
	DocumentType          string // raw code, see DocumentTypeName
	SpecialStatus         string
	PhotoHash             []byte // SHA-1 (20 bytes) on old RSA cards, SHA-256 (32) on later 1.7 ones, SHA-384 (48) on 1.8
	Duplicate             string
	SpecialOrganisation   string
	MemberOfFamily        bool
	ProtectionDateCountry string
	WorkPermit            string
	EmployerVAT1          string
	EmployerVAT2          string
	RegionalFileNumber    string
	BasicKeyHash          []byte // SHA-384 of the basic public key file, applet 1.8 only
	BrexitMention1        string
	BrexitMention2        string
	CardAMention1         string
	CardAMention2         string
	EUCardStartDate       Date

	// FieldErrors lists the fields that did not read as they should; see
	// ParseIdentity for what each keeps. Empty on a well-formed file.
	FieldErrors []*FieldError
}

// Address is the content of the address file (3F00/DF01/4033).
type Address struct {
	FileVersion  []byte
	Street       string // street and number
	ZipCode      string
	Municipality string

	// FieldErrors lists the fields that did not read as they should, as
	// for Identity.
	FieldErrors []*FieldError
}

// Errors the driver reports; match them with errors.Is.
var (
	ErrNotBelpic   = errors.New("beid: not a Belgian eID card")
	ErrWrongPIN    = errors.New("beid: wrong PIN")   // see *PINError for tries left
	ErrPINBlocked  = errors.New("beid: PIN blocked") // no tries left
	ErrInvalidPIN  = errors.New("beid: PIN must be 4 to 12 digits")
	ErrUnsupported = errors.New("beid: unsupported by this card")
	ErrIntegrity   = errors.New("beid: integrity check failed")
	ErrMalformed   = errors.New("beid: malformed card data")

	// ErrPINRequired means the card refused to sign because the key's PIN
	// condition is not met: no verification yet for the authentication key,
	// or none right before the signature for the non-repudiation key.
	ErrPINRequired = errors.New("beid: PIN verification required")
	// ErrInvalidDigest means the digest handed to Sign does not have the
	// length of its hash.
	ErrInvalidDigest = errors.New("beid: digest length does not match the hash")
	// ErrNoCertificate means a certificate file holds no certificate, as
	// on cards of children, who get no signature certificate.
	ErrNoCertificate = errors.New("beid: no certificate in this file")
	// ErrPinpadTimeout and ErrPinpadCancelled report a pinpad reader whose
	// user did not finish, or aborted, entering the PIN. No try is spent.
	ErrPinpadTimeout   = errors.New("beid: PIN entry on the pinpad timed out")
	ErrPinpadCancelled = errors.New("beid: PIN entry on the pinpad was cancelled")
)

// PINError reports a failed PIN verification. It matches ErrWrongPIN, or
// ErrPINBlocked when no tries are left.
type PINError struct {
	TriesLeft int
}

func (e *PINError) Error() string {
	switch e.TriesLeft {
	case 0:
		return "beid: wrong PIN, PIN blocked"
	case 1:
		return "beid: wrong PIN, 1 try left"
	}
	return fmt.Sprintf("beid: wrong PIN, %d tries left", e.TriesLeft)
}

// Is makes a *PINError match ErrWrongPIN, and ErrPINBlocked at zero tries.
func (e *PINError) Is(target error) bool {
	return target == ErrWrongPIN || (target == ErrPINBlocked && e.TriesLeft == 0)
}

// Card is a Belgian eID card reached through a Transmitter. A Card is not
// safe for concurrent use: the caller serialises access (the bridge holds a
// PC/SC transaction per operation).
type Card struct {
	t Transmitter
	x apdu.Exchanger
	// Cached GET CARD DATA so that a session asks once.
	data *CardData
}

// DefaultResendDelay is the pause a Card makes, unless told otherwise,
// between a 6Cxx answer and the command sent again with the exact length.
// Real BELPIC cards do not answer a repeat that comes at once: OpenSC
// waits 40 ms for every BELPIC card (src/libopensc/card-belpic.c: the card
// "doesn't respond" otherwise), Fedict eid-mw 50 ms when GET CARD DATA
// says applet 1.8 (cardcomm/pkcs11/src/cardlayer/card.cpp), e-Contract
// commons-eid 10 ms, "mandatory for eID v1.0 and v1.1" (BeIDCard.java).
// The longest of the three covers every generation. Every read of a file
// whose size the driver cannot know ends in a 6Cxx, so this costs a few
// tenths of a second per full read of a real card.
const DefaultResendDelay = 50 * time.Millisecond

// A ResendPacer is a Transmitter that knows the pause its card needs
// between a 6Cxx answer and the exact-length repeat. New uses it instead
// of DefaultResendDelay; the simulator's readers say 0.
type ResendPacer interface {
	ResendDelay() time.Duration
}

// An Option configures New.
type Option func(*Card)

// WithResendDelay sets the pause between a 6Cxx answer and the
// exact-length repeat, overriding DefaultResendDelay and a ResendPacer.
func WithResendDelay(d time.Duration) Option {
	return func(c *Card) { c.x.ResendDelay = max(d, 0) }
}

// WithCardData gives the Card the GET CARD DATA answer an earlier session
// with the same card got, so that it does not ask the card again. The
// caller vouches that cd is the answer of the card behind t.
func WithCardData(cd *CardData) Option {
	return func(c *Card) {
		if cd != nil {
			cp := *cd
			cp.Serial = append([]byte(nil), cd.Serial...)
			c.data = &cp
		}
	}
}

// New returns a Card that talks through t. Without options it pauses
// DefaultResendDelay before an exact-length repeat, or what t says when it
// is a ResendPacer.
func New(t Transmitter, opts ...Option) *Card {
	c := &Card{t: t, x: apdu.Exchanger{ResendDelay: DefaultResendDelay}}
	if p, ok := t.(ResendPacer); ok {
		c.x.ResendDelay = max(p.ResendDelay(), 0)
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ResendDelay returns the pause c makes before an exact-length repeat.
func (c *Card) ResendDelay() time.Duration { return c.x.ResendDelay }

// Integrity is the outcome of checking the RRN signatures over the identity
// and address files and the photo against its hash.
type Integrity struct {
	IdentitySignature error // nil when valid
	AddressSignature  error
	PhotoHash         error
	RRNCertificate    error // chain of the RRN certificate to the card's root
	// BasicKeyHash checks, on applet 1.8 cards, that the basic public key
	// file hashes to the value the signed identity file carries.
	BasicKeyHash error
	// CardAuthentication is the card genuineness check: the card signed a
	// fresh challenge with the basic key the signed identity file names
	// (see ChallengeBasicKey). It is ErrCardAuthUnavailable on cards
	// without a basic key (applet 1.7 and older), which Valid does not
	// count as a failure, and an error matching ErrNotGenuine when the
	// card failed the challenge.
	CardAuthentication error
}

// Valid reports whether every check that applies to the card passed.
func (i Integrity) Valid() bool {
	return i.IdentitySignature == nil && i.AddressSignature == nil && i.PhotoHash == nil &&
		i.RRNCertificate == nil && i.BasicKeyHash == nil &&
		(i.CardAuthentication == nil || errors.Is(i.CardAuthentication, ErrCardAuthUnavailable))
}

// Genuine reports whether the card proved it is genuine with its basic
// key. It is false both when the check failed and when the card cannot
// take it (CardAuthentication tells which).
func (i Integrity) Genuine() bool { return i.CardAuthentication == nil }

// Signature algorithms a card offers for a digest.
type SignatureAlgorithm int

const (
	RSAPKCS1v15 SignatureAlgorithm = iota + 1 // applet 1.7
	ECDSAP384                                 // applet 1.8
)

// Signature is a signature made by the card. For ECDSA, DER holds the ASN.1
// form (as crypto/ecdsa.VerifyASN1 takes) and Raw the card's r||s.
type Signature struct {
	Algorithm SignatureAlgorithm
	Hash      crypto.Hash
	DER       []byte
	Raw       []byte
}

// Contents is everything a full read of the card returns.
type Contents struct {
	CardData          *CardData
	Identity          *Identity
	IdentityFile      []byte // raw identity file as read, padding included
	IdentitySignature []byte
	Address           *Address
	AddressFile       []byte
	AddressSignature  []byte
	Photo             []byte // JPEG
	BasicPublicKey    []byte // applet 1.8 only, nil otherwise
	// BasicKeyChallenge is the card's answer to a challenge with its
	// basic key (applet 1.8 only, nil otherwise).
	BasicKeyChallenge *BasicKeyChallenge
	AuthCert          *x509.Certificate
	SignCert          *x509.Certificate
	CACert            *x509.Certificate
	RootCert          *x509.Certificate
	RRNCert           *x509.Certificate
	Integrity         Integrity
}

// Pinpad is a reader that can take the PIN on its own keypad (PC/SC part 10
// FEATURE_VERIFY_PIN_DIRECT). VerifyPINDirect sends the PIN_VERIFY_STRUCTURE
// built by the driver and returns the card's response APDU.
type Pinpad interface {
	VerifyPINDirect(ctx context.Context, verifyStructure []byte) ([]byte, error)
}
