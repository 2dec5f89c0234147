package bridge_test

import (
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// TestIdentityReportsCounterfeit reads a card built from a genuine card's
// files with another basic key inside: every file verifies, and only the
// basic key challenge the identity method makes tells the page.
func TestIdentityReportsCounterfeit(t *testing.T) {
	e, _ := newEnv(t, 0, preConsented)
	pki, err := sim.NewPKI(sim.ProfileECC)
	if err != nil {
		t.Fatal(err)
	}
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: pki, PIN: testPIN, ForeignBasicKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.readers.Insert(reader0, card); err != nil {
		t.Fatal(err)
	}
	c := e.dial(testOrigin)
	var id struct {
		Integrity struct {
			Valid   bool     `json:"valid"`
			Errors  []string `json:"errors"`
			Genuine string   `json:"genuine"`
		} `json:"integrity"`
	}
	c.ok("identity", nil, &id)
	if id.Integrity.Valid || id.Integrity.Genuine != "failed" || len(id.Integrity.Errors) != 1 ||
		!strings.Contains(id.Integrity.Errors[0], "not genuine") {
		t.Errorf("identity integrity = %+v, want invalid, genuine failed, one error saying so", id.Integrity)
	}
	// The other methods' integrity is about their files, which are genuine.
	var ad struct {
		Integrity map[string]any `json:"integrity"`
	}
	c.ok("address", nil, &ad)
	if ad.Integrity["valid"] != true || ad.Integrity["genuine"] != nil {
		t.Errorf("address integrity = %v", ad.Integrity)
	}
}
