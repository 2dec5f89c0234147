package beid

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"github.com/cardbridge/cardbridge/apdu"
)

// Card genuineness (applet 1.8). The identity file, which the National
// Register signs, carries in tag 1A the SHA-384 hash of the basic public
// key file 4040 (commons-eid Identity.java: @TlvField(26)
// basicPublicKeyDigest; eid-mw eid-viewer certhelpers.c do_challenge
// compares the file's SHA-384 with that "basic_key_hash"). The matching
// private key (reference 81) never leaves the chip. A card made from copied
// files carries a genuine 4040 and tag 1A but cannot sign with the key
// inside them: asking the card to sign a fresh random challenge with key 81
// and verifying the answer with the key of file 4040 tells a genuine card
// from such a copy. eid-mw's viewer sends 48 random bytes, which the card
// signs as a SHA-384 hash (ECDSA, algorithm reference 02).

// ErrNotGenuine means the card failed the basic key challenge: it cannot
// sign with the key its signed identity file names, so its files were
// copied from another card (or its key file does not match its hash). It
// is reported inside Integrity.CardAuthentication, wrapped with
// ErrIntegrity.
var ErrNotGenuine = errors.New("beid: the card is not genuine")

// ErrCardAuthUnavailable means the card cannot prove it is genuine: its
// identity file names no basic key, as on every applet 1.7 (and older)
// card. Integrity.Valid does not count it as a failure; it says that
// genuineness was not checked, not that it failed.
var ErrCardAuthUnavailable = errors.New("beid: card authentication not available: the card has no basic key (applet 1.7 or older)")

// challengeLen is the challenge eid-mw's viewer has the card sign: 48
// random bytes, the length of a SHA-384 hash.
const challengeLen = sha512.Size384

// Algorithm reference 02 on applet 1.8: ECDSA over a SHA-384 hash (facts
// §6 table; the same byte MSE SET takes).
const algBasicKeySHA384 = 0x02

// keyBasic is the basic key, usable only with INTERNAL AUTHENTICATE.
const keyBasic = 0x81

// BasicKeyChallenge is a challenge the card signed with its basic key.
type BasicKeyChallenge struct {
	Challenge []byte // the random bytes sent, used as a SHA-384 hash
	Response  []byte // the card's ECDSA signature, r||s
}

// ChallengeBasicKey has the card sign a fresh random challenge with its
// basic key: INTERNAL AUTHENTICATE `00 88 02 81 32 94 30` followed by 48
// random bytes, sent without Le; the card answers 61 60 and GET RESPONSE
// returns r||s, 96 bytes for P-384 (facts §6, §8). It needs no PIN. The
// answer is checked by VerifyIntegrity against the key of file 4040; a
// card without a basic key answers with a status word, returned as an
// error matching apdu.ErrUnexpectedStatusWord.
func (c *Card) ChallengeBasicKey(ctx context.Context) (*BasicKeyChallenge, error) {
	ch := make([]byte, challengeLen)
	if _, err := rand.Read(ch); err != nil {
		return nil, fmt.Errorf("beid: challenge: %w", err)
	}
	data := append([]byte{0x94, challengeLen}, ch...)
	cmd := apdu.Command{CLA: 0x00, INS: apdu.InsInternalAuth, P1: algBasicKeySHA384, P2: keyBasic, Data: data}
	resp, err := c.x.Run(ctx, c.t, cmd)
	if err != nil {
		return nil, fmt.Errorf("beid: INTERNAL AUTHENTICATE: %w", err)
	}
	return &BasicKeyChallenge{Challenge: ch, Response: append([]byte(nil), resp...)}, nil
}

// checkCardAuthentication verifies the basic key challenge of c: the key
// of file 4040 must be the one the signed identity file names (basicKeyErr,
// the BasicKeyHash check, is nil) and must verify the card's answer.
// wantHash is the identity file's tag 1A; without it the card has no basic
// key and ErrCardAuthUnavailable is returned.
func checkCardAuthentication(c *Contents, wantHash []byte, basicKeyErr error) error {
	if wantHash == nil {
		return ErrCardAuthUnavailable
	}
	if basicKeyErr != nil {
		return fmt.Errorf("%w: %w: basic public key file does not match the identity file", ErrIntegrity, ErrNotGenuine)
	}
	ch := c.BasicKeyChallenge
	if ch == nil || len(ch.Challenge) == 0 {
		return fmt.Errorf("%w: card authentication not performed", ErrIntegrity)
	}
	pub, err := parseBasicKey(c.BasicPublicKey)
	if err != nil {
		return err
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(ch.Response) != 2*size {
		return fmt.Errorf("%w: %w: answer of %d bytes to the basic key challenge, want %d", ErrIntegrity, ErrNotGenuine, len(ch.Response), 2*size)
	}
	r := new(big.Int).SetBytes(ch.Response[:size])
	s := new(big.Int).SetBytes(ch.Response[size:])
	if !ecdsa.Verify(pub, ch.Challenge, r, s) {
		return fmt.Errorf("%w: %w: the card's answer does not verify with its basic public key", ErrIntegrity, ErrNotGenuine)
	}
	return nil
}

// parseBasicKey reads file 4040, a DER SubjectPublicKeyInfo of an EC key,
// possibly followed by padding.
func parseBasicKey(file []byte) (*ecdsa.PublicKey, error) {
	n, err := derLength(file)
	if err != nil || n > len(file) {
		return nil, fmt.Errorf("%w: basic public key file is not a DER public key", ErrIntegrity)
	}
	k, err := x509.ParsePKIXPublicKey(file[:n])
	if err != nil {
		return nil, fmt.Errorf("%w: basic public key: %w", ErrIntegrity, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: basic public key is a %T, want ECDSA", ErrIntegrity, k)
	}
	return pub, nil
}
