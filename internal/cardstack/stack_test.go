package cardstack

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/internal/rig"
	"github.com/cardbridge/cardbridge/pcsc"
)

const testPIN = "1234"

var profiles = []struct {
	name    string
	profile sim.Profile
}{
	{"rsa-1.7", sim.ProfileRSA},
	{"ecc-1.8", sim.ProfileECC},
	{"rsa-ecrrn-1.7", sim.ProfileRSAECRRN},
}

// insert puts a fresh simulated card in the virtual reader and connects to
// it through pcscd.
func insert(t *testing.T, p sim.Profile) (*sim.Card, *rig.Slot, *pcsc.Context) {
	t.Helper()
	rig.Require(t)
	card, err := sim.New(sim.Options{Profile: p, PIN: testPIN})
	if err != nil {
		t.Fatal(err)
	}
	slot := rig.Insert(t, card)
	ctx := testContext(t)
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return card, slot, pc
}

func connect(t *testing.T, pc *pcsc.Context) *pcsc.Card {
	t.Helper()
	c, err := pc.Connect(testContext(t), rig.Reader)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSignaturesVerify(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			_, _, pc := insert(t, p.profile)
			ctx := testContext(t)
			card := beid.New(connect(t, pc))
			contents, err := card.ReadAll(ctx)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !contents.Integrity.Valid() {
				t.Fatalf("integrity: %+v", contents.Integrity)
			}
			for _, key := range []struct {
				name string
				key  beid.Key
				cert *x509.Certificate
			}{
				{"authentication", beid.KeyAuthentication, contents.AuthCert},
				{"signature", beid.KeySignature, contents.SignCert},
			} {
				for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
					t.Run(key.name+"/"+h.String(), func(t *testing.T) {
						hh := h.New()
						hh.Write([]byte("cardbridge stack test " + key.name))
						digest := hh.Sum(nil)
						verify := func(ctx context.Context) error { return card.VerifyPIN(ctx, []byte(testPIN)) }
						sig, err := card.Sign(ctx, key.key, h, digest, verify)
						if err != nil {
							t.Fatalf("Sign: %v", err)
						}
						switch pub := key.cert.PublicKey.(type) {
						case *rsa.PublicKey:
							err = rsa.VerifyPKCS1v15(pub, h, digest, sig.DER)
						case *ecdsa.PublicKey:
							if !ecdsa.VerifyASN1(pub, digest, sig.DER) {
								err = errors.New("ECDSA signature does not verify")
							}
						default:
							t.Fatalf("unexpected key type %T", pub)
						}
						if err != nil {
							t.Errorf("signature does not verify with the card's %s certificate: %v", key.name, err)
						}
					})
				}
			}
		})
	}
}

func TestWrongPINCountsDownAndBlocks(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			simCard, _, pc := insert(t, p.profile)
			ctx := testContext(t)
			card := beid.New(connect(t, pc))

			// A malformed PIN never reaches the card.
			if err := card.VerifyPIN(ctx, []byte("12a4")); !errors.Is(err, beid.ErrInvalidPIN) {
				t.Fatalf("malformed PIN: %v, want ErrInvalidPIN", err)
			}
			if got := simCard.TriesLeft(); got != 3 {
				t.Fatalf("a malformed PIN cost a try: %d left", got)
			}
			for want := 2; want >= 0; want-- {
				err := card.VerifyPIN(ctx, []byte("9999"))
				var pe *beid.PINError
				if !errors.As(err, &pe) || pe.TriesLeft != want {
					t.Fatalf("wrong PIN: %v, want *PINError with %d tries left", err, want)
				}
				if !errors.Is(err, beid.ErrWrongPIN) {
					t.Errorf("wrong PIN error %v does not match ErrWrongPIN", err)
				}
				if got, err := card.PINTriesLeft(ctx); want > 0 && (err != nil || got != want) {
					t.Errorf("PINTriesLeft = %d, %v; want %d", got, err, want)
				}
			}
			// Blocked: even the right PIN is refused, and says so.
			if err := card.VerifyPIN(ctx, []byte(testPIN)); !errors.Is(err, beid.ErrPINBlocked) {
				t.Fatalf("right PIN on a blocked card: %v, want ErrPINBlocked", err)
			}
			if _, err := card.PINTriesLeft(ctx); !errors.Is(err, beid.ErrPINBlocked) {
				t.Errorf("PINTriesLeft on a blocked card: %v, want ErrPINBlocked", err)
			}
		})
	}
}

func TestCorrectPINResetsCounter(t *testing.T) {
	simCard, _, pc := insert(t, sim.ProfileECC)
	ctx := testContext(t)
	card := beid.New(connect(t, pc))
	if err := card.VerifyPIN(ctx, []byte("0000")); !errors.Is(err, beid.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := card.VerifyPIN(ctx, []byte(testPIN)); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	if got := simCard.TriesLeft(); got != 3 {
		t.Errorf("tries left after the right PIN = %d, want 3", got)
	}
}

// TestPulledMidRead pulls the card in the middle of a full read: the read
// must fail with a typed error, and after reinsertion a new read succeeds.
func TestPulledMidRead(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			simCard, slot, pc := insert(t, p.profile)
			ctx := testContext(t)
			c := connect(t, pc)
			simCard.PullAfter(10) // inside the photo or certificate reads
			_, err := beid.New(c).ReadAll(ctx)
			if !errors.Is(err, pcsc.ErrCardRemoved) {
				t.Fatalf("read with the card pulled: %v, want an error matching pcsc.ErrCardRemoved", err)
			}
			c.Close()

			simCard.Reinsert()
			slot.Reinsert()
			contents, err := beid.New(connect(t, pc)).ReadAll(ctx)
			if err != nil {
				t.Fatalf("read after reinsertion: %v", err)
			}
			if !contents.Integrity.Valid() {
				t.Errorf("integrity after reinsertion: %+v", contents.Integrity)
			}
		})
	}
}

// TestResendPauseOverPCSC is D1 on the real stack: a card that stays mute
// when the exact-length repeat follows its 6Cxx too soon reads whole with
// the driver's default pause, and fails, as a mute card does, without it.
func TestResendPauseOverPCSC(t *testing.T) {
	rig.Require(t)
	gap := beid.DefaultResendDelay - 10*time.Millisecond
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			card, err := sim.New(sim.Options{Profile: p.profile, PIN: testPIN, MuteOnEarlyResend: gap})
			if err != nil {
				t.Fatal(err)
			}
			slot := rig.Insert(t, card)
			pc, err := pcsc.Establish(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pc.Close() })
			ctx := testContext(t)

			contents, err := beid.New(connect(t, pc)).ReadAll(ctx)
			if err != nil {
				t.Fatalf("ReadAll with the default pause: %v", err)
			}
			if !contents.Integrity.Valid() {
				t.Errorf("integrity: %+v", contents.Integrity)
			}
			if card.Mute() {
				t.Fatal("card went mute with the default pause")
			}

			_, err = beid.New(connect(t, pc), beid.WithResendDelay(0)).ReadFile(ctx, beid.FileIdentity)
			if err == nil {
				t.Fatal("ReadFile without a pause succeeded on a card that needs one")
			}
			// Over vpcd a mute card drops its connection: pcscd ends the
			// transmission with no answer and then finds the card gone.
			var pe *pcsc.Error
			if !errors.As(err, &pe) && !errors.Is(err, pcsc.ErrCardRemoved) {
				t.Fatalf("ReadFile without a pause: %v, want a PC/SC transmission failure", err)
			}
			if !card.Mute() {
				t.Error("the card did not go mute")
			}
			t.Logf("without the pause: %v", err)
			slot.Reinsert()
		})
	}
}
