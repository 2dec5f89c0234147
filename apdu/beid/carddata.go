package beid

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/apdu"
)

// Lengths of the GET CARD DATA answer: P2=00 gives the card data, P2=01
// (applet 1.8 only) appends the PIN tries left and two reserved bytes.
const (
	appletFirst      = 0x10 // applet 1.0, the first BELPIC applet
	cardDataLen      = 0x1C
	cardDataTriesLen = 0x1F
)

// appletAID is the instance AID of the BELPIC applet. The applet is the
// card's default, so it is selected only to recover when something else
// (another middleware, a card manager command) left a different one active.
var appletAID = []byte{0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF}

// ParseCardData decodes a GET CARD DATA answer, 28 bytes or, with P2=01,
// 31. It fails with ErrNotBelpic when the answer is too short or its
// applet version is below 1.0 (0x10). Later versions than this package
// knows are accepted, so that new cards still work: the driver takes the
// ECC path from 0x18 on and the RSA path below, as eid-mw
// (cardcomm/pkcs11/src/cardlayer/card.cpp) and OpenSC (card-belpic.c)
// compare the version rather than match it.
func ParseCardData(b []byte) (*CardData, error) {
	if len(b) < cardDataLen {
		return nil, fmt.Errorf("%w: card data has %d bytes, want %d", ErrNotBelpic, len(b), cardDataLen)
	}
	cd := &CardData{
		Serial:         append([]byte(nil), b[0:16]...),
		ComponentCode:  b[16],
		OSNumber:       b[17],
		OSVersion:      b[18],
		SoftmaskNumber: b[19],
		SoftmaskVer:    b[20],
		AppletVersion:  b[21],
		GlobalOSVer:    uint16(b[22])<<8 | uint16(b[23]),
		AppletIntfVer:  b[24],
		PKCS1Support:   b[25],
		KeyExchangeVer: b[26],
		LifeCycle:      b[27],
		PINTriesLeft:   -1,
	}
	if cd.AppletVersion < appletFirst {
		return nil, fmt.Errorf("%w: applet version %02X", ErrNotBelpic, cd.AppletVersion)
	}
	if len(b) > cardDataLen && b[cardDataLen] != 0xFF { // FF: no PIN object
		cd.PINTriesLeft = int(b[cardDataLen])
	}
	return cd, nil
}

// CardData returns GET CARD DATA, asked once per Card and cached. It sends
// the form every applet knows (P2=00), so PINTriesLeft is -1 in the result;
// Card.PINTriesLeft asks for the current count. A card that refuses the
// command, even after the BELPIC applet is selected again, gives
// ErrNotBelpic.
func (c *Card) CardData(ctx context.Context) (*CardData, error) {
	if c.data == nil {
		b, err := c.getCardData(ctx, 0x00, cardDataLen)
		var se *apdu.StatusError
		if errors.As(err, &se) {
			// Someone may have left another applet selected.
			sel := apdu.Command{CLA: 0x00, INS: apdu.InsSelect, P1: 0x04, P2: 0x0C, Data: appletAID}
			if _, serr := c.x.Run(ctx, c.t, sel); serr != nil {
				return nil, fmt.Errorf("%w: %w", ErrNotBelpic, err)
			}
			b, err = c.getCardData(ctx, 0x00, cardDataLen)
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%w: %w", ErrNotBelpic, err)
			}
		}
		if err != nil {
			return nil, err
		}
		cd, err := ParseCardData(b)
		if err != nil {
			return nil, err
		}
		c.data = cd
	}
	cd := *c.data
	cd.Serial = append([]byte(nil), c.data.Serial...)
	return &cd, nil
}

func (c *Card) getCardData(ctx context.Context, p2 byte, le int) ([]byte, error) {
	cmd := apdu.Command{CLA: 0x80, INS: 0xE4, P1: 0x00, P2: p2, Le: le}
	b, err := c.x.Run(ctx, c.t, cmd)
	if err != nil {
		return nil, fmt.Errorf("beid: GET CARD DATA: %w", err)
	}
	return b, nil
}

// ECC reports whether the card signs with ECDSA: applet 1.8 and later.
func (cd *CardData) ECC() bool { return cd.AppletVersion >= Applet18 }
