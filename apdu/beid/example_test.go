package beid_test

import (
	"context"
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
