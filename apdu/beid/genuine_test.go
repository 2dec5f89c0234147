package beid_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

func TestCardGenuineness(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		profile sim.Profile
		foreign bool
		check   func(t *testing.T, in beid.Integrity)
	}{
		{"ecc genuine", sim.ProfileECC, false, func(t *testing.T, in beid.Integrity) {
			if in.CardAuthentication != nil || !in.Genuine() || !in.Valid() {
				t.Errorf("card authentication %v, valid %v; want a genuine card", in.CardAuthentication, in.Valid())
			}
		}},
		{"ecc foreign basic key", sim.ProfileECC, true, func(t *testing.T, in beid.Integrity) {
			if !errors.Is(in.CardAuthentication, beid.ErrNotGenuine) || !errors.Is(in.CardAuthentication, beid.ErrIntegrity) {
				t.Errorf("card authentication %v, want ErrNotGenuine and ErrIntegrity", in.CardAuthentication)
			}
			if in.Valid() || in.Genuine() {
				t.Error("a counterfeit card passes as valid")
			}
			// The copied files themselves are all genuine: only the
			// challenge tells.
			if in.IdentitySignature != nil || in.BasicKeyHash != nil || in.PhotoHash != nil {
				t.Errorf("file checks failed on copied files: %+v", in)
			}
		}},
		{"rsa unavailable", sim.ProfileRSA, false, func(t *testing.T, in beid.Integrity) {
			if !errors.Is(in.CardAuthentication, beid.ErrCardAuthUnavailable) {
				t.Errorf("card authentication %v, want ErrCardAuthUnavailable", in.CardAuthentication)
			}
			if !in.Valid() || in.Genuine() {
				t.Errorf("valid %v genuine %v: want valid (nothing failed) and not genuine (not checked)", in.Valid(), in.Genuine())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki, err := pkis[tc.profile]()
			if err != nil {
				t.Fatal(err)
			}
			card, err := sim.New(sim.Options{Profile: tc.profile, PKI: pki, ForeignBasicKey: tc.foreign})
			if err != nil {
				t.Fatal(err)
			}
			got, err := beid.New(card).ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got.Integrity)
			var sent []sim.LogEntry
			for _, e := range card.Log() {
				if e.Command.INS == apdu.InsInternalAuth {
					sent = append(sent, e)
				}
			}
			if tc.profile == sim.ProfileRSA {
				if len(sent) != 0 {
					t.Errorf("INTERNAL AUTHENTICATE sent to an applet 1.7 card: %v", sent)
				}
				return
			}
			if len(sent) != 1 {
				t.Fatalf("%d INTERNAL AUTHENTICATE commands, want 1", len(sent))
			}
			c := sent[0].Command
			if b, _ := c.Bytes(); len(b) != 5+2+48 || !bytes.Equal(b[:7], []byte{0x00, 0x88, 0x02, 0x81, 0x32, 0x94, 0x30}) {
				t.Errorf("INTERNAL AUTHENTICATE % X, want 00 88 02 81 32 94 30 + 48 bytes", b)
			}
			if sent[0].SW != 0x6160 {
				t.Errorf("card answered %v, want 61 60", sent[0].SW)
			}
		})
	}
}

func TestCardAuthenticationChecks(t *testing.T) {
	card := newSimCard(t, sim.ProfileECC)
	orig, err := beid.New(card).ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		change     func(c *beid.Contents)
		notGenuine bool
	}{
		{"another challenge", func(c *beid.Contents) {
			ch := *c.BasicKeyChallenge
			ch.Challenge = bytes.Clone(ch.Challenge)
			ch.Challenge[0] ^= 1
			c.BasicKeyChallenge = &ch
		}, true},
		{"short answer", func(c *beid.Contents) {
			ch := *c.BasicKeyChallenge
			ch.Response = ch.Response[:95]
			c.BasicKeyChallenge = &ch
		}, true},
		{"key file of another card", func(c *beid.Contents) {
			other := newSimCard(t, sim.ProfileECC)
			c.BasicPublicKey, _ = other.File(beid.FileBasicPublicKey)
		}, true},
		{"no challenge", func(c *beid.Contents) { c.BasicKeyChallenge = nil }, false},
		{"no key file", func(c *beid.Contents) { c.BasicPublicKey = nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *orig
			tc.change(&c)
			in := beid.VerifyIntegrity(&c)
			if !errors.Is(in.CardAuthentication, beid.ErrIntegrity) || errors.Is(in.CardAuthentication, beid.ErrNotGenuine) != tc.notGenuine {
				t.Errorf("card authentication %v; want ErrIntegrity, ErrNotGenuine %v", in.CardAuthentication, tc.notGenuine)
			}
			if in.Valid() {
				t.Error("valid")
			}
		})
	}
}

func TestForeignBasicKeyNeedsBasicKey(t *testing.T) {
	pki, err := pkis[sim.ProfileRSA]()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.New(sim.Options{Profile: sim.ProfileRSA, PKI: pki, ForeignBasicKey: true}); !errors.Is(err, sim.ErrInvalidOptions) {
		t.Errorf("got %v, want ErrInvalidOptions", err)
	}
}
