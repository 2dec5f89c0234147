package bridge_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
)

// fileSelects counts, in the card's log from entry from on, the SELECTs
// of each elementary file by path (3F00 DFxx xxxx), and every command.
func fileSelects(card *sim.Card, from int) (map[string]int, int) {
	out := map[string]int{}
	log := card.Log()
	for _, e := range log[min(from, len(log)):] {
		if e.Command.INS == apdu.InsSelect && e.Command.P1 == 0x08 && len(e.Command.Data) == 6 {
			out[fmt.Sprintf("%X", e.Command.Data)]++
		}
	}
	return out, len(log) - min(from, len(log))
}

// registrationFlow runs what the registration portal asks for: readers,
// identity, address, photo, certificates, authenticate and sign.
func registrationFlow(t *testing.T, e *env, c *client) {
	t.Helper()
	c.ok("readers", nil, nil)
	for _, m := range []string{"identity", "address", "photo", "certificates"} {
		c.ok(m, nil, nil)
	}
	e.prompter.EnterPIN(testPIN)
	c.ok("authenticate", map[string]string{"challengeNonce": nonce()}, nil)
	digest := sha256.Sum256([]byte("registration"))
	e.prompter.Confirm(bridgetest.ConfirmSignature, true)
	e.prompter.EnterPIN(testPIN)
	c.ok("sign", map[string]string{"digest": base64.StdEncoding.EncodeToString(digest[:]), "hashAlgorithm": "SHA-256"}, nil)
}

// TestCardCacheReadsEachFileOnce runs the registration flow and checks
// that no file is selected twice: authenticate and sign take their
// certificates from what certificates read.
func TestCardCacheReadsEachFileOnce(t *testing.T) {
	for _, pr := range profiles {
		for _, hidden := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/insertions hidden %v", pr.name, hidden), func(t *testing.T) {
				e, card := newEnv(t, pr.p, preConsented)
				e.readers.HideInsertions(hidden)
				c := e.dial(testOrigin)
				registrationFlow(t, e, c)
				sel, _ := fileSelects(card, 0)
				for f, n := range sel {
					if n != 1 {
						t.Errorf("file %s selected %d times", f, n)
					}
				}
				// identity, its signature, address, its signature, photo,
				// five certificates, and 4040 on applet 1.8.
				want := 10
				if pr.p == sim.ProfileECC {
					want++
				}
				if len(sel) != want {
					t.Errorf("%d files read, want %d: %v", len(sel), want, sel)
				}
				var getCardData int
				for _, l := range card.Log() {
					// P2=01 on applet 1.8 reads the PIN tries left.
					if l.Command.INS == 0xE4 && l.Command.P2 == 0 {
						getCardData++
					}
				}
				// Without insertion marks every session checks the
				// card's serial.
				if !hidden && getCardData != 1 {
					t.Errorf("%d GET CARD DATA, want 1 per insertion", getCardData)
				}
				if hidden && getCardData < 2 {
					t.Errorf("%d GET CARD DATA: sessions that cannot tell insertions apart must check the serial", getCardData)
				}
			})
		}
	}
}

// TestCardCacheHitAndMiss: a repeated read is answered without the card;
// after the card left the reader and came back, the files are read again.
func TestCardCacheHitAndMiss(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	c.ok("photo", nil, nil)
	before := card.Commands()
	c.ok("photo", nil, nil)
	c.ok("identity", nil, nil)
	c.ok("identity", nil, nil)
	// identity needs only the basic key file and its challenge more:
	// the identity file and its signature chain came with the photo.
	sel, n := fileSelects(card, len(card.Log())-(card.Commands()-before))
	if len(sel) != 1 || sel["3F00DF014040"] != 1 || n != 1+2+2 {
		t.Errorf("after photo: %d commands, selects %v; want only file 4040 (select, 2 reads) and the challenge (2)", n, sel)
	}
	e.readers.Remove(reader0)
	if err := e.readers.Insert(reader0, card); err != nil {
		t.Fatal(err)
	}
	before = card.Commands()
	c.ok("photo", nil, nil)
	if card.Commands() == before {
		t.Error("photo after the card was reinserted was not read from the card")
	}
}

// TestCardCacheSwap swaps the card in the reader between two requests,
// also where the watcher does not see it happen and where sessions cannot
// tell insertions apart: every answer is about the card in the reader.
func TestCardCacheSwap(t *testing.T) {
	for _, tc := range []struct {
		name         string
		hold, hidden bool
	}{
		{"seen", false, false},
		{"unseen by the watcher", true, false},
		{"insertions hidden", false, true},
		{"insertions hidden, unseen by the watcher", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, a := newEnv(t, sim.ProfileECC, preConsented)
			e.readers.HideInsertions(tc.hidden)
			pb := sim.DefaultPerson()
			pb.Identity.Surname, pb.Identity.NationalNumber = "Peeters", "85073003328"
			pb.Address.Street = "Meir 1"
			b, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: a.PKI(), PIN: testPIN, Person: pb})
			if err != nil {
				t.Fatal(err)
			}
			c := e.dial(testOrigin)
			c.ok("readers", nil, nil) // subscribes: the watcher runs
			check := func(card *sim.Card) {
				t.Helper()
				var id struct {
					Identity  map[string]any `json:"identity"`
					Integrity struct {
						Valid bool `json:"valid"`
					} `json:"integrity"`
				}
				c.ok("identity", nil, &id)
				if id.Identity["surname"] != card.Person().Identity.Surname || !id.Integrity.Valid {
					t.Errorf("identity of %q: %v", card.Person().Identity.Surname, id)
				}
				var ad struct{ Address map[string]string }
				c.ok("address", nil, &ad)
				if ad.Address["street"] != card.Person().Address.Street {
					t.Errorf("address of %q: %v", card.Person().Identity.Surname, ad.Address)
				}
				var certs map[string]string
				c.ok("certificates", nil, &certs)
				if der, _ := base64.StdEncoding.DecodeString(certs["authentication"]); !bytes.Equal(der, card.AuthCert().Raw) {
					t.Errorf("authentication certificate is not %q's", card.Person().Identity.Surname)
				}
				var cd map[string]string
				c.ok("card", nil, &cd)
				if cd["serial"] != fmt.Sprintf("%X", card.Serial()) {
					t.Errorf("card serial %s, want %X", cd["serial"], card.Serial())
				}
			}
			check(a)
			e.readers.HoldEvents(tc.hold)
			if err := e.readers.Insert(reader0, b); err != nil {
				t.Fatal(err)
			}
			check(b)
			if err := e.readers.Insert(reader0, a); err != nil {
				t.Fatal(err)
			}
			check(a)
			e.readers.HoldEvents(false)
		})
	}
}

// TestCardCacheCounterfeitSameSerial: where sessions cannot tell
// insertions apart, the cache finds a card by the serial it reports,
// which a counterfeit can copy. Swapped in unseen, such a card must still
// face the genuineness challenge itself.
func TestCardCacheCounterfeitSameSerial(t *testing.T) {
	e, genuine := newEnv(t, sim.ProfileECC, preConsented)
	e.readers.HideInsertions(true)
	fake, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: genuine.PKI(), PIN: testPIN,
		Serial: genuine.Serial(), ForeignBasicKey: true})
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial(testOrigin)
	c.ok("readers", nil, nil)
	result := func() (string, bool) {
		var id struct {
			Integrity struct {
				Valid   bool   `json:"valid"`
				Genuine string `json:"genuine"`
			} `json:"integrity"`
		}
		c.ok("identity", nil, &id)
		return id.Integrity.Genuine, id.Integrity.Valid
	}
	if g, v := result(); g != "verified" || !v {
		t.Fatalf("genuine card: genuine %q, valid %v", g, v)
	}
	e.readers.HoldEvents(true)
	defer e.readers.HoldEvents(false)
	if err := e.readers.Insert(reader0, fake); err != nil {
		t.Fatal(err)
	}
	if g, v := result(); g != "failed" || v {
		t.Errorf("counterfeit with the genuine card's serial: genuine %q, valid %v; want failed", g, v)
	}
}
