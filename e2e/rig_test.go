package e2e

import (
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
	"github.com/cardbridge/cardbridge/internal/rig"
)

// TestBrowserFlowRig runs the flow the way it runs on a user's machine: the
// daemon reads the card through the real PC/SC stack (libpcsclite → pcscd
// → vpcd) with the real reader adapter, and the simulated card sits in the
// virtual reader. The ECC card runs in Dutch, the RSA card in English;
// then a revoked card is refused at login. Needs the rig (scripts/rig.sh start); skips loudly
// without it unless CARDBRIDGE_RIG=required.
func TestBrowserFlowRig(t *testing.T) {
	tl := requireBrowser(t)
	rig.Require(t)
	for _, profile := range []sim.Profile{sim.ProfileECC, sim.ProfileRSA} {
		t.Run(profile.String(), func(t *testing.T) {
			card, err := sim.New(sim.Options{Profile: profile})
			if err != nil {
				t.Fatal(err)
			}
			rig.Insert(t, card)
			readers := pcscreaders.New()
			t.Cleanup(func() { readers.Close() })
			w := startWorld(t, readers, card.PKI())
			lang := profileLanguages[profile]
			res := runBrowser(t, tl, w, "rig-"+profile.String(), "LOCALE="+lang.locale)
			if res.Reader != rig.Reader {
				t.Errorf("page chose reader %q, want %q", res.Reader, rig.Reader)
			}
			checkFlow(t, w, card, lang, res)
		})
	}
	t.Run("revoked", func(t *testing.T) {
		card, err := sim.New(sim.Options{Profile: sim.ProfileECC})
		if err != nil {
			t.Fatal(err)
		}
		rig.Insert(t, card)
		readers := pcscreaders.New()
		t.Cleanup(func() { readers.Close() })
		checkRevoked(t, tl, startWorld(t, readers, card.PKI()), card, dutch, "rig-revoked")
	})
}
