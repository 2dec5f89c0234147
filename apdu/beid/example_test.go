package beid_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"log"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

func ExampleCard_ReadAll() {
	// Any apdu.Transmitter will do: a PC/SC card handle, or here a
	// simulated applet 1.8 card.
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC})
	if err != nil {
		log.Fatal(err)
	}
	c, err := beid.New(card).ReadAll(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Identity.Surname, c.Identity.BirthDate, c.Address.Municipality)
	fmt.Println("integrity valid:", c.Integrity.Valid())
	// Output:
	// Van den Bossche 1990-05-17 Gent
	// integrity valid: true
}

func ExampleCard_Sign() {
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC, PIN: "1234"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c := beid.New(card)
	cert, err := c.Certificate(ctx, beid.FileSignCert)
	if err != nil {
		log.Fatal(err)
	}
	digest := sha256.Sum256([]byte("document"))
	// The non-repudiation key wants the PIN right before each signature.
	sig, err := c.Sign(ctx, beid.KeySignature, crypto.SHA256, digest[:], func(ctx context.Context) error {
		return c.VerifyPIN(ctx, []byte("1234"))
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig.DER))
	// Output: true
}
