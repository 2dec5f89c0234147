package beid

import (
	"context"
	"fmt"

	"github.com/cardbridge/cardbridge/apdu"
)

// LogOff clears every access right a PIN verification granted (LOG OFF,
// 80 E6 00 00). A program sharing the reader calls it when it is done with
// the PIN, so that the authentication key, which stays unlocked for the
// rest of the card session, cannot be used by whoever comes next.
func (c *Card) LogOff(ctx context.Context) error {
	if _, err := c.x.Run(ctx, c.t, apdu.Command{CLA: 0x80, INS: 0xE6}); err != nil {
		return fmt.Errorf("beid: LOG OFF: %w", err)
	}
	return nil
}
