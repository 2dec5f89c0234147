package pcsc_test

import (
	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/pcsc"
)

// A Card is what the BELPIC driver talks through, PIN pad included.
var (
	_ apdu.Transmitter = (*pcsc.Card)(nil)
	_ beid.Pinpad      = (*pcsc.Card)(nil)
)
