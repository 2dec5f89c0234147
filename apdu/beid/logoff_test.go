package beid_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

func TestLogOffLocksAuthenticationKey(t *testing.T) {
	ctx := context.Background()
	sc, err := sim.New(sim.Options{Profile: sim.ProfileECC, PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	card := beid.New(sc)
	if err := card.VerifyPIN(ctx, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("challenge"))
	if _, err := card.Sign(ctx, beid.KeyAuthentication, crypto.SHA256, digest[:], nil); err != nil {
		t.Fatalf("authentication key after VERIFY: %v", err)
	}
	if err := card.LogOff(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := card.Sign(ctx, beid.KeyAuthentication, crypto.SHA256, digest[:], nil); !errors.Is(err, beid.ErrPINRequired) {
		t.Fatalf("authentication key after LOG OFF: %v, want ErrPINRequired", err)
	}
}
