package beid

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func FuzzParseIdentity(f *testing.F) {
	f.Add(sampleIdentityFile())
	f.Add(append(sampleIdentityFile(), make([]byte, 20)...))
	f.Add(tlv(0x01, "B12345678", 0x0C, "00.   .1950", 0x14, "", 0x1A, bytes.Repeat([]byte{1}, 48), 0x1F, "02.03.2019"))
	f.Add(tlv(0x0C, "15      1950", 0x0D, "W"))
	f.Add([]byte{0x07, 0xFF, 0x01, 'a'})
	f.Add([]byte{0x00, 0x00, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if len(id.FieldErrors) > 0 {
			for _, fe := range id.FieldErrors {
				if !errors.Is(fe, ErrMalformed) {
					t.Fatalf("field error %v does not match ErrMalformed", fe)
				}
			}
			return // a value the card should not have; it is not re-encoded
		}
		enc, err := id.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed identity does not encode: %v", err)
		}
		back, err := ParseIdentity(enc)
		if err != nil {
			t.Fatalf("encoded identity does not parse: %v", err)
		}
		if !reflect.DeepEqual(back, id) {
			t.Fatalf("round trip changed the identity:\n got %+v\nwant %+v", back, id)
		}
		if again, _ := back.MarshalBinary(); !bytes.Equal(again, enc) {
			t.Fatalf("encoding is not stable: %X then %X", enc, again)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	f.Add(append(tlv(0x00, []byte{0, 1}, 0x01, "Rue de la Loi 16", 0x02, "1000", 0x03, "Bruxelles"), make([]byte, 30)...))
	f.Add(tlv(0x01, "Kerkstraat 1", 0x03, "Gent"))
	f.Add([]byte{0x01, 0xFF, 0x00})
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAddress(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if len(a.FieldErrors) > 0 {
			for _, fe := range a.FieldErrors {
				if !errors.Is(fe, ErrMalformed) {
					t.Fatalf("field error %v does not match ErrMalformed", fe)
				}
			}
			return // a value the card should not have; it is not re-encoded
		}
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed address does not encode: %v", err)
		}
		back, err := ParseAddress(enc)
		if err != nil {
			t.Fatalf("encoded address does not parse: %v", err)
		}
		if !reflect.DeepEqual(back, a) {
			t.Fatalf("round trip changed the address:\n got %+v\nwant %+v", back, a)
		}
	})
}

func FuzzParseBirthDate(f *testing.F) {
	for _, s := range []string{"01 JAN 1990", "03.MÄR.1992", "1950", "   JAN 1950", "15      1950", "01.02.1990"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseBirthDate(s)
		if err != nil {
			return
		}
		for _, lang := range []string{"nl", "fr", "de"} {
			back, err := ParseBirthDate(FormatBirthDate(d, lang))
			if err != nil || back != d {
				t.Fatalf("%q: %v formats in %s as %q, which reads back as %v, %v", s, d, lang, FormatBirthDate(d, lang), back, err)
			}
		}
	})
}
