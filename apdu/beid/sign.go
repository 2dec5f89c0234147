package beid

import (
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/cardbridge/cardbridge/apdu"
)

// digestInfoPrefix returns the DER prefix of the PKCS #1 DigestInfo for h
// (RFC 8017 §9.2 note 1). The RSA card pads PKCS #1 v1.5 itself but, with
// algorithm reference 01, leaves the DigestInfo to the host.
func digestInfoPrefix(h crypto.Hash) []byte {
	switch h {
	case crypto.SHA256:
		return []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	case crypto.SHA384:
		return []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}
	case crypto.SHA512:
		return []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}
	}
	return nil
}

// dfBelpic is DF(BELPIC), the PKCS #15 application holding the keys.
var dfBelpic = File{"BELPIC application", []uint16{0x3F00, 0xDF00}}

// Algorithm references of MANAGE SECURITY ENVIRONMENT. The same byte means
// different things on the two generations, which is why Sign never picks
// one without knowing the applet version.
const (
	algRSAPKCS1DigestInfo = 0x01 // applet 1.1/1.7: host sends a DigestInfo
	algECDSASHA256        = 0x01 // applet 1.8
	algECDSASHA384        = 0x02 // applet 1.8
	algECDSASHA512        = 0x04 // applet 1.8
)

// selectBelpic makes DF(BELPIC) the current DF. It selects by path first,
// as OpenSC, commons-eid and the eid-mw minidriver do; a card that answers
// 6A82 or 6A86 to that gets the form of eid-mw's PKCS #11 card layer
// (cardcomm/pkcs11/src/cardlayer/card.cpp): the MF, then DF00 by file ID
// (00 A4 02 0C 02 DF00).
func (c *Card) selectBelpic(ctx context.Context) error {
	err := c.selectFile(ctx, dfBelpic)
	var se *apdu.StatusError
	if !errors.As(err, &se) || se.SW != apdu.SWFileNotFound && se.SW != apdu.SWIncorrectP1P2 {
		return err
	}
	for _, fid := range dfBelpic.Path {
		cmd := apdu.Command{CLA: 0x00, INS: apdu.InsSelect, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}}
		if _, ferr := c.x.Run(ctx, c.t, cmd); ferr != nil {
			return fmt.Errorf("beid: select %s by file ID after %w: %w", dfBelpic.Name, err, ferr)
		}
	}
	return nil
}

// Sign signs digest, made with hash (SHA-256, SHA-384 or SHA-512), with key.
// verify, when not nil, is called after MANAGE SECURITY ENVIRONMENT and right
// before the signature, which is where the non-repudiation key requires its
// PIN verification; it is expected to call VerifyPIN or VerifyPINPinpad.
//
// The algorithm follows the applet version from GET CARD DATA: RSA PKCS #1
// v1.5 on applet 1.1 and 1.7 (algorithm reference 01 with the DigestInfo,
// which serves all three hashes), ECDSA on 1.8 (references 01, 02, 04 for
// SHA-256, -384, -512). The commands are SELECT DF(BELPIC), MSE SET, verify,
// then PSO: COMPUTE DIGITAL SIGNATURE. A card that wants a PIN first gives
// ErrPINRequired; a digest of the wrong length ErrInvalidDigest, before
// anything is sent. For ECDSA the card's r||s is in Signature.Raw and its
// ASN.1 form in Signature.DER; for RSA both hold the signature.
func (c *Card) Sign(ctx context.Context, key Key, hash crypto.Hash, digest []byte, verify func(ctx context.Context) error) (*Signature, error) {
	if key != KeyAuthentication && key != KeySignature {
		return nil, fmt.Errorf("%w: key reference %02X", ErrUnsupported, byte(key))
	}
	if hash != crypto.SHA256 && hash != crypto.SHA384 && hash != crypto.SHA512 {
		return nil, fmt.Errorf("%w: hash %v", ErrUnsupported, hash)
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("%w: %d bytes for %v, want %d", ErrInvalidDigest, len(digest), hash, hash.Size())
	}
	cd, err := c.CardData(ctx)
	if err != nil {
		return nil, err
	}
	var (
		alg        SignatureAlgorithm
		algRef     byte
		toBeSigned []byte
	)
	// Later applets keep the algorithm references of the generation they
	// extend (eid-mw and OpenSC test "version >= 0x18").
	if cd.ECC() {
		alg, toBeSigned = ECDSAP384, digest
		switch hash {
		case crypto.SHA256:
			algRef = algECDSASHA256
		case crypto.SHA384:
			algRef = algECDSASHA384
		default:
			algRef = algECDSASHA512
		}
	} else {
		alg, algRef = RSAPKCS1v15, algRSAPKCS1DigestInfo
		toBeSigned = append(digestInfoPrefix(hash), digest...)
	}

	// The official middleware selects DF(BELPIC), where the keys live,
	// before every signature on applet 1.7 and later: MSE SET resolves the
	// key reference in the current DF, which a read of the identity files
	// leaves at DF01.
	if err := c.selectBelpic(ctx); err != nil {
		return nil, err
	}
	mse := apdu.Command{CLA: 0x00, INS: apdu.InsMSE, P1: 0x41, P2: 0xB6, Data: []byte{0x04, 0x80, algRef, 0x84, byte(key)}}
	if _, err := c.x.Run(ctx, c.t, mse); err != nil {
		return nil, fmt.Errorf("beid: MANAGE SECURITY ENVIRONMENT: %w", err)
	}
	if verify != nil {
		if err := verify(ctx); err != nil {
			return nil, err
		}
	}
	// No Le: under T=0 a case 4 command is sent as case 3 and the card
	// announces the signature with 61xx, which Exchange collects.
	pso := apdu.Command{CLA: 0x00, INS: apdu.InsPSO, P1: 0x9E, P2: 0x9A, Data: toBeSigned}
	sig, err := c.x.Run(ctx, c.t, pso)
	if err != nil {
		if errors.Is(err, apdu.ErrSecurityStatus) {
			return nil, fmt.Errorf("%w: %w", ErrPINRequired, err)
		}
		return nil, fmt.Errorf("beid: COMPUTE DIGITAL SIGNATURE: %w", err)
	}
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrMalformed)
	}
	out := &Signature{Algorithm: alg, Hash: hash, Raw: append([]byte(nil), sig...)}
	if alg == RSAPKCS1v15 {
		// An RSA signature has a single form.
		out.DER = append([]byte(nil), sig...)
		return out, nil
	}
	if out.DER, err = ECDSARawToASN1(sig); err != nil {
		return nil, err
	}
	return out, nil
}

// ECDSARawToASN1 converts the card's ECDSA signature, r and s as two
// big-endian integers of equal length, to the ASN.1 DER SEQUENCE that
// crypto/ecdsa.VerifyASN1 and X.509 use.
func ECDSARawToASN1(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("%w: ECDSA signature of %d bytes is not r||s", ErrMalformed, len(raw))
	}
	half := len(raw) / 2
	r := new(big.Int).SetBytes(raw[:half])
	s := new(big.Int).SetBytes(raw[half:])
	if r.Sign() == 0 || s.Sign() == 0 {
		return nil, fmt.Errorf("%w: ECDSA signature with a zero component", ErrMalformed)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return der, nil
}

func (a SignatureAlgorithm) String() string {
	switch a {
	case RSAPKCS1v15:
		return "RSA PKCS #1 v1.5"
	case ECDSAP384:
		return "ECDSA P-384"
	}
	return fmt.Sprintf("SignatureAlgorithm(%d)", int(a))
}
