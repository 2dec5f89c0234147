package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/internal/rig"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = realMain(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"read", "extra"}, 2, "unexpected argument"},
		{[]string{"readers", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"help"}, 0, "Usage"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr %q lacks %q", stderr, tt.msg)
			}
		})
	}
}

// TestReadThroughPCSC reads the simulated card through pcscd and vpcd, as a
// person with a real reader would, for both card generations.
func TestReadThroughPCSC(t *testing.T) {
	rig.Require(t)
	for _, tt := range []struct {
		name    string
		profile sim.Profile
		applet  string
		foreign bool   // a counterfeit: another basic key than the files name
		genuine string // integrity.genuine
	}{
		{"1.8", sim.ProfileECC, "1.8", false, "verified"},
		{"1.7", sim.ProfileRSA, "1.7", false, "unavailable"},
		{"1.7 EC RRN key", sim.ProfileRSAECRRN, "1.7", false, "unavailable"},
		{"1.8 foreign basic key", sim.ProfileECC, "1.8", true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			card, err := sim.New(sim.Options{Profile: tt.profile, ForeignBasicKey: tt.foreign})
			if err != nil {
				t.Fatal(err)
			}
			rig.Insert(t, card)

			stdout, stderr, code := run(t, "readers", "--json")
			if code != 0 {
				t.Fatalf("readers: exit %d: %s", code, stderr)
			}
			var readers []readerReport
			if err := json.Unmarshal([]byte(stdout), &readers); err != nil {
				t.Fatalf("readers --json: %v\n%s", err, stdout)
			}
			var found bool
			for _, r := range readers {
				if r.Name == rig.Reader {
					found = true
					if want := "Belgian eID (applet " + tt.applet + ")"; r.Card != want || r.Applet != tt.applet {
						t.Errorf("reader shows card %q applet %q, want %q", r.Card, r.Applet, want)
					}
				}
			}
			if !found {
				t.Fatalf("%q not listed: %s", rig.Reader, stdout)
			}

			stdout, stderr, code = run(t, "read", "--json", "--reader", rig.Reader)
			if code != 0 {
				t.Fatalf("read: exit %d: %s", code, stderr)
			}
			var got struct {
				Card      cardReport      `json:"card"`
				Identity  map[string]any  `json:"identity"`
				Address   map[string]any  `json:"address"`
				Integrity integrityReport `json:"integrity"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("read --json: %v\n%s", err, stdout)
			}
			person := card.Person()
			if got.Identity["nationalNumber"] != person.Identity.NationalNumber || got.Identity["surname"] != person.Identity.Surname {
				t.Errorf("identity %v does not match the card's person %+v", got.Identity, person.Identity)
			}
			if got.Address["municipality"] != person.Address.Municipality {
				t.Errorf("address %v, want municipality %q", got.Address, person.Address.Municipality)
			}
			if got.Integrity.IdentitySignature != "valid" || got.Integrity.AddressSignature != "valid" || got.Integrity.PhotoHash != "valid" {
				t.Errorf("integrity %+v, want all files valid", got.Integrity)
			}
			if tt.foreign {
				if got.Integrity.Valid || !strings.Contains(got.Integrity.Genuine, "not genuine") {
					t.Errorf("counterfeit card: integrity valid %v, genuine %q", got.Integrity.Valid, got.Integrity.Genuine)
				}
				stdout, _, _ := run(t, "read", "--reader", rig.Reader)
				if !strings.Contains(stdout, "Genuine card:        FAILED") {
					t.Errorf("read does not say the card failed:\n%s", stdout)
				}
			} else if !got.Integrity.Valid || got.Integrity.Genuine != tt.genuine {
				t.Errorf("integrity valid %v, genuine %q; want valid, genuine %q", got.Integrity.Valid, got.Integrity.Genuine, tt.genuine)
			}
			if got.Card.Applet != tt.applet {
				t.Errorf("applet %q, want %q", got.Card.Applet, tt.applet)
			}

			// The default reader choice finds the one Belgian card.
			if _, stderr, code := run(t, "read"); code != 0 {
				t.Errorf("read without --reader: exit %d: %s", code, stderr)
			}
		})
	}
}
