package beid

import (
	"fmt"
)

// The identity and address files are a flat list of elements: a one-byte
// tag, a length, the value. Lengths below 255 take one byte; longer ones
// are written, as the card content document describes, as FF bytes that
// each add 255 followed by a final byte below FF (so 300 is FF 2D). Real
// fields are far shorter than 128 bytes, where this and the 7-bit scheme
// found in some middleware agree.

// element is one decoded field. value aliases the input.
type element struct {
	tag   byte
	value []byte
}

// parseElements splits a file into elements. Tag 00 (file structure
// version) may only come first; once a 00 byte shows up in tag position
// later on, the rest of the file must be zero padding.
func parseElements(b []byte) ([]element, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrMalformed)
	}
	var out []element
	for i := 0; i < len(b); {
		tag := b[i]
		if tag == 0x00 && i > 0 {
			if !allZero(b[i:]) {
				return nil, fmt.Errorf("%w: tag 00 after the first field", ErrMalformed)
			}
			break
		}
		i++
		n := 0
		for {
			if i >= len(b) {
				return nil, fmt.Errorf("%w: tag %02X: missing length", ErrMalformed, tag)
			}
			l := int(b[i])
			i++
			n += l
			if l != 0xFF {
				break
			}
		}
		if n > len(b)-i {
			return nil, fmt.Errorf("%w: tag %02X: length %d beyond the end of the file", ErrMalformed, tag, n)
		}
		out = append(out, element{tag: tag, value: b[i : i+n : i+n]})
		i += n
	}
	return out, nil
}

// appendElement appends one element in the encoding parseElements reads.
func appendElement(dst []byte, tag byte, value []byte) []byte {
	dst = append(dst, tag)
	n := len(value)
	for n >= 0xFF {
		dst = append(dst, 0xFF)
		n -= 0xFF
	}
	dst = append(dst, byte(n))
	return append(dst, value...)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// trimZeros drops trailing 00 padding bytes.
func trimZeros(b []byte) []byte {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return b[:n]
}
