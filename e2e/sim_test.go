package e2e

import (
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

// simReaders is one simulated reader holding card.
func simReaders(t *testing.T, card *sim.Card) bridge.Readers {
	t.Helper()
	r := simreaders.New(simReader)
	if err := r.Insert(simReader, card); err != nil {
		t.Fatal(err)
	}
	return r
}
