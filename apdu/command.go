package apdu

import (
	"errors"
	"fmt"
)

// Limits of the Lc and Le fields in short and extended form.
const (
	MaxShortData    = 255
	MaxShortLe      = 256
	MaxExtendedData = 65535
	MaxExtendedLe   = 65536
)

// Common instruction bytes.
const (
	InsVerify          = 0x20
	InsChangeReference = 0x24
	InsPSO             = 0x2A
	InsMSE             = 0x22
	InsInternalAuth    = 0x88
	InsGetChallenge    = 0x84
	InsSelect          = 0xA4
	InsReadBinary      = 0xB0
	InsReadRecord      = 0xB2
	InsGetResponse     = 0xC0
	InsGetData         = 0xCA
	claChainingBit     = 0x10
)

// ErrInvalidCommand is returned when a Command cannot be encoded, for
// example because its data is longer than an extended Lc allows.
var ErrInvalidCommand = errors.New("apdu: invalid command")

// ErrMalformedCommand is returned by ParseCommand for bytes that are not a
// well-formed command APDU.
var ErrMalformedCommand = errors.New("apdu: malformed command")

// Command is a command APDU.
//
// Le is the number of response bytes expected: 0 means none (no Le field),
// and 1..256 (short) or 1..65536 (extended) are sent as such; 256 is encoded
// as 00 in short form, as ISO 7816-4 prescribes.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Le               int
	// Extended forces the extended length encoding even when the short one
	// would do. Encoding switches to extended form by itself when Data or Le
	// do not fit the short form.
	Extended bool
}

// Bytes encodes c. It fails with ErrInvalidCommand when the lengths do not
// fit even the extended form.
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > MaxExtendedData {
		return nil, fmt.Errorf("%w: %d data bytes exceed the extended Lc limit", ErrInvalidCommand, len(c.Data))
	}
	if c.Le < 0 || c.Le > MaxExtendedLe {
		return nil, fmt.Errorf("%w: Le %d out of range", ErrInvalidCommand, c.Le)
	}
	ext := c.Extended || len(c.Data) > MaxShortData || c.Le > MaxShortLe
	b := make([]byte, 4, 4+3+len(c.Data)+3)
	b[0], b[1], b[2], b[3] = c.CLA, c.INS, c.P1, c.P2
	if !ext {
		if len(c.Data) > 0 {
			b = append(b, byte(len(c.Data)))
			b = append(b, c.Data...)
		}
		if c.Le > 0 {
			b = append(b, byte(c.Le)) // 256 wraps to 00
		}
		return b, nil
	}
	if len(c.Data) > 0 {
		b = append(b, 0, byte(len(c.Data)>>8), byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		le := c.Le
		if le == MaxExtendedLe {
			le = 0
		}
		if len(c.Data) == 0 {
			b = append(b, 0)
		}
		b = append(b, byte(le>>8), byte(le))
	}
	return b, nil
}

// String shows the header and lengths of c but never its data, so that a
// command carrying a PIN block can be logged safely.
func (c Command) String() string {
	return fmt.Sprintf("%02X %02X %02X %02X Lc=%d Le=%d", c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Le)
}

// ParseCommand decodes a command APDU in any of the four ISO cases, short or
// extended. It is the inverse of Command.Bytes and is what a simulated card
// uses to read what the host sent. Data aliases b but has no spare capacity,
// so appending to it never overwrites b.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: %d bytes, need at least 4", ErrMalformedCommand, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2 short
		c.Le = int(body[0])
		if c.Le == 0 {
			c.Le = MaxShortLe
		}
		return c, nil
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
			c.Data = body[1 : 1+lc : 1+lc]
		case 2 + lc:
			c.Data = body[1 : 1+lc : 1+lc]
			c.Le = int(body[1+lc])
			if c.Le == 0 {
				c.Le = MaxShortLe
			}
		default:
			return Command{}, fmt.Errorf("%w: Lc %d does not match %d body bytes", ErrMalformedCommand, lc, len(body))
		}
		return c, nil
	}
	// Extended forms start with a 00 byte.
	c.Extended = true
	if len(body) == 3 { // case 2 extended
		c.Le = int(body[1])<<8 | int(body[2])
		if c.Le == 0 {
			c.Le = MaxExtendedLe
		}
		return c, nil
	}
	if len(body) < 3 {
		return Command{}, fmt.Errorf("%w: truncated extended length", ErrMalformedCommand)
	}
	lc := int(body[1])<<8 | int(body[2])
	if lc == 0 {
		return Command{}, fmt.Errorf("%w: extended Lc of zero", ErrMalformedCommand)
	}
	switch len(body) {
	case 3 + lc:
		c.Data = body[3 : 3+lc : 3+lc]
	case 5 + lc:
		c.Data = body[3 : 3+lc : 3+lc]
		c.Le = int(body[3+lc])<<8 | int(body[4+lc])
		if c.Le == 0 {
			c.Le = MaxExtendedLe
		}
	default:
		return Command{}, fmt.Errorf("%w: extended Lc %d does not match %d body bytes", ErrMalformedCommand, lc, len(body))
	}
	return c, nil
}

// Chain splits c into a sequence of short commands using command chaining
// (CLA bit 0x10 on all but the last), each carrying at most size data bytes.
// Le is carried by the last command only. A command that fits is returned as
// it is.
func (c Command) Chain(size int) ([]Command, error) {
	if size <= 0 || size > MaxShortData {
		return nil, fmt.Errorf("%w: chain size %d", ErrInvalidCommand, size)
	}
	if len(c.Data) <= size {
		return []Command{c}, nil
	}
	var out []Command
	for rest := c.Data; len(rest) > 0; {
		n := min(size, len(rest))
		part := Command{CLA: c.CLA | claChainingBit, INS: c.INS, P1: c.P1, P2: c.P2, Data: rest[:n]}
		rest = rest[n:]
		if len(rest) == 0 {
			part.CLA = c.CLA
			part.Le = c.Le
		}
		out = append(out, part)
	}
	return out, nil
}
