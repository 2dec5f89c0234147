package beid

import (
	"fmt"
)

// Tags of the address file (3F00/DF01/4033).
const (
	tagAddrStreet       = 0x01
	tagAddrZipCode      = 0x02
	tagAddrMunicipality = 0x03
)

// ParseAddress decodes the address file, trailing zero padding included.
// Unknown tags are skipped. Text values are trimmed of surrounding spaces
// (a real card pads the street with 25). A text with invalid UTF-8 or
// control characters is kept, those replaced by U+FFFD, and listed in
// Address.FieldErrors. A broken structure, or a file without any address
// field, gives an error matching ErrMalformed.
func ParseAddress(b []byte) (*Address, error) {
	elems, err := parseElements(b)
	if err != nil {
		return nil, fmt.Errorf("beid: address file: %w", err)
	}
	a := new(Address)
	var fe fieldErrors
	for _, e := range elems {
		var dst *string
		switch e.tag {
		case tagFileVersion:
			a.FileVersion = append([]byte{}, e.value...)
			continue
		case tagAddrStreet:
			dst = &a.Street
		case tagAddrZipCode:
			dst = &a.ZipCode
		case tagAddrMunicipality:
			dst = &a.Municipality
		default:
			continue
		}
		*dst = fe.text(e)
	}
	a.FieldErrors = fe
	if a.FileVersion == nil && a.Street == "" && a.ZipCode == "" && a.Municipality == "" {
		return nil, fmt.Errorf("%w: address file: no address fields", ErrMalformed)
	}
	return a, nil
}

// UnmarshalBinary is ParseAddress as an encoding.BinaryUnmarshaler.
func (a *Address) UnmarshalBinary(b []byte) error {
	p, err := ParseAddress(b)
	if err != nil {
		return err
	}
	*a = *p
	return nil
}

// MarshalBinary encodes a as an address file without padding: FileVersion
// when not nil, then the non-empty text fields in tag order.
func (a *Address) MarshalBinary() ([]byte, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil address", ErrMalformed)
	}
	var out []byte
	if a.FileVersion != nil {
		out = appendElement(out, tagFileVersion, a.FileVersion)
	}
	for _, f := range []struct {
		tag byte
		s   string
	}{
		{tagAddrStreet, a.Street},
		{tagAddrZipCode, a.ZipCode},
		{tagAddrMunicipality, a.Municipality},
	} {
		if f.s == "" {
			continue
		}
		if err := checkText(f.tag, f.s); err != nil {
			return nil, fmt.Errorf("beid: address: %w", err)
		}
		out = appendElement(out, f.tag, []byte(f.s))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: address: no fields", ErrMalformed)
	}
	return out, nil
}
