package apdu

import (
	"errors"
	"fmt"
)

// ErrMalformedTLV is returned for TLV data that is truncated or otherwise
// cannot be decoded.
var ErrMalformedTLV = errors.New("apdu: malformed TLV")

// maxTagBytes bounds multi-byte BER tags; ISO 7816-4 uses at most three.
const maxTagBytes = 4

// TLV is one decoded tag-length-value element. Value aliases the input.
type TLV struct {
	Tag   uint32
	Value []byte
}

// Constructed reports whether a BER tag has the constructed bit set, so its
// value is itself a sequence of BER-TLV elements.
func (t TLV) Constructed() bool {
	first := t.Tag
	for first > 0xFF {
		first >>= 8
	}
	return first&0x20 != 0
}

// ParseBER decodes a sequence of BER-TLV elements (ISO 7816-4 §5.2.2) with
// definite lengths. Padding bytes 00 and FF between elements are skipped, as
// the standard allows.
func ParseBER(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		if b[0] == 0x00 || b[0] == 0xFF {
			b = b[1:]
			continue
		}
		tag, n, err := berTag(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		length, n, err := berLength(b)
		if err != nil {
			return nil, fmt.Errorf("tag %X: %w", tag, err)
		}
		b = b[n:]
		if length > len(b) {
			return nil, fmt.Errorf("%w: tag %X wants %d bytes, %d left", ErrMalformedTLV, tag, length, len(b))
		}
		out = append(out, TLV{Tag: tag, Value: b[:length:length]})
		b = b[length:]
	}
	return out, nil
}

// FindBER returns the value of the first element with the given tag at the
// top level of b.
func FindBER(b []byte, tag uint32) ([]byte, bool, error) {
	tlvs, err := ParseBER(b)
	if err != nil {
		return nil, false, err
	}
	for _, t := range tlvs {
		if t.Tag == tag {
			return t.Value, true, nil
		}
	}
	return nil, false, nil
}

func berTag(b []byte) (uint32, int, error) {
	tag := uint32(b[0])
	if b[0]&0x1F != 0x1F {
		return tag, 1, nil
	}
	for i := 1; ; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("%w: truncated tag", ErrMalformedTLV)
		}
		if i >= maxTagBytes {
			return 0, 0, fmt.Errorf("%w: tag longer than %d bytes", ErrMalformedTLV, maxTagBytes)
		}
		tag = tag<<8 | uint32(b[i])
		if b[i]&0x80 == 0 {
			return tag, i + 1, nil
		}
	}
}

func berLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: missing length", ErrMalformedTLV)
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, nil
	}
	n := int(b[0] & 0x7F)
	if n == 0 {
		return 0, 0, fmt.Errorf("%w: indefinite length", ErrMalformedTLV)
	}
	if n > 3 { // 16 MiB is far beyond anything a card holds
		return 0, 0, fmt.Errorf("%w: %d length bytes", ErrMalformedTLV, n)
	}
	if len(b) < 1+n {
		return 0, 0, fmt.Errorf("%w: truncated length", ErrMalformedTLV)
	}
	l := 0
	for _, c := range b[1 : 1+n] {
		l = l<<8 | int(c)
	}
	return l, 1 + n, nil
}

// ParseSimple decodes a sequence of simple-TLV elements (ISO 7816-4
// §5.2.1): a one-byte tag (not 00 or FF), then a length byte 00–FE, or FF
// followed by a two-byte big-endian length.
func ParseSimple(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		tag := b[0]
		if tag == 0x00 || tag == 0xFF {
			return nil, fmt.Errorf("%w: invalid simple-TLV tag %02X", ErrMalformedTLV, tag)
		}
		b = b[1:]
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: tag %02X without length", ErrMalformedTLV, tag)
		}
		length := int(b[0])
		b = b[1:]
		if length == 0xFF {
			if len(b) < 2 {
				return nil, fmt.Errorf("%w: truncated three-byte length", ErrMalformedTLV)
			}
			length = int(b[0])<<8 | int(b[1])
			b = b[2:]
		}
		if length > len(b) {
			return nil, fmt.Errorf("%w: tag %02X wants %d bytes, %d left", ErrMalformedTLV, tag, length, len(b))
		}
		out = append(out, TLV{Tag: uint32(tag), Value: b[:length:length]})
		b = b[length:]
	}
	return out, nil
}

// AppendBER appends tag, length and value in BER-TLV form to dst.
func AppendBER(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFFFF:
		dst = append(dst, byte(tag>>24), byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	switch l := len(value); {
	case l < 0x80:
		dst = append(dst, byte(l))
	case l <= 0xFF:
		dst = append(dst, 0x81, byte(l))
	case l <= 0xFFFF:
		dst = append(dst, 0x82, byte(l>>8), byte(l))
	default:
		dst = append(dst, 0x83, byte(l>>16), byte(l>>8), byte(l))
	}
	return append(dst, value...)
}
