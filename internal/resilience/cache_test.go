package resilience

import (
	"bytes"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// TestCardCacheOverPCSC reads through the daemon and pcscd: a repeated
// read is answered from the card cache, another card put in the same
// reader is read as itself (and, when it is a counterfeit, reported as
// one), and the first card put back is read again.
func TestCardCacheOverPCSC(t *testing.T) {
	for _, p := range sim.Profiles {
		t.Run(p.String(), func(t *testing.T) {
			s := newStack(t, stackOptions{profile: p})
			ctx := testContext(t)
			c := s.dial(testOrigin)
			defer c.close()
			type identity struct {
				Identity struct {
					Surname string `json:"surname"`
				} `json:"identity"`
				Integrity struct {
					Valid   bool     `json:"valid"`
					Errors  []string `json:"errors"`
					Genuine string   `json:"genuine"`
				} `json:"integrity"`
			}
			var certs struct {
				Authentication []byte `json:"authentication"`
			}
			read := func(card *sim.Card, genuine string) {
				t.Helper()
				var id identity
				if err := c.callInto(ctx, "identity", nil, &id); err != nil {
					t.Fatal(err)
				}
				if id.Identity.Surname != card.Person().Identity.Surname || id.Integrity.Genuine != genuine ||
					id.Integrity.Valid != (genuine != "failed") {
					t.Errorf("identity of %q: %+v, want genuine %q", card.Person().Identity.Surname, id, genuine)
				}
				if err := c.callInto(ctx, "certificates", nil, &certs); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(certs.Authentication, card.AuthCert().Raw) {
					t.Errorf("authentication certificate is not %q's", card.Person().Identity.Surname)
				}
			}
			genuine := "unavailable" // applet 1.7: no basic key
			if p == sim.ProfileECC {
				genuine = "verified"
			}
			read(s.card, genuine)
			before := s.card.Commands()
			read(s.card, genuine)
			if n := s.card.Commands() - before; n != 0 {
				t.Errorf("a repeated read sent %d commands to the card, want 0 (cache hit)", n)
			}

			// Another card in the same reader; on applet 1.8 a
			// counterfeit with a genuine card's files.
			person := sim.DefaultPerson()
			person.Identity.Surname = "Peeters"
			other, err := sim.New(sim.Options{Profile: p, PKI: s.card.PKI(), PIN: testPIN, Person: person,
				ForeignBasicKey: p == sim.ProfileECC})
			if err != nil {
				t.Fatal(err)
			}
			s.slot.Remove()
			if s.swapped = insertOther(t, other); s.swapped == nil {
				t.FailNow()
			}
			otherGenuine := genuine
			if p == sim.ProfileECC {
				otherGenuine = "failed"
			}
			read(other, otherGenuine)

			s.restoreCard()
			before = s.card.Commands()
			read(s.card, genuine)
			if s.card.Commands() == before {
				t.Error("the card put back was not read again (cache miss expected)")
			}
		})
	}
}
