package beid

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestParseCardData(t *testing.T) {
	cd, err := ParseCardData(hexBytes(cardDataHex(Applet17)))
	if err != nil {
		t.Fatal(err)
	}
	want := &CardData{
		Serial:         hexBytes("534C494E336600123456789012345678"),
		ComponentCode:  0x90,
		OSNumber:       0x01,
		OSVersion:      0x11,
		AppletVersion:  Applet17,
		GlobalOSVer:    0x0003,
		PKCS1Support:   0x21,
		KeyExchangeVer: 0x01,
		LifeCycle:      0x0F,
		PINTriesLeft:   -1,
	}
	if !reflect.DeepEqual(cd, want) {
		t.Errorf("ParseCardData:\n got %+v\nwant %+v", cd, want)
	}
	cd, err = ParseCardData(hexBytes(cardDataHex(Applet18) + "02FFFF"))
	if err != nil || cd.PINTriesLeft != 2 || cd.AppletVersion != Applet18 {
		t.Errorf("P2=01 form: %+v, %v", cd, err)
	}
	for _, bad := range [][]byte{
		nil,
		hexBytes(cardDataHex(Applet17))[:27],
		hexBytes(cardDataHex(0x0F)),
		hexBytes(cardDataHex(0x00)),
	} {
		if _, err := ParseCardData(bad); !errors.Is(err, ErrNotBelpic) {
			t.Errorf("ParseCardData(% X) = %v, want ErrNotBelpic", bad, err)
		}
	}
}

// TestAppletForwardCompatible is D3: applet versions the package does not
// know take the path of the generation they follow.
func TestAppletForwardCompatible(t *testing.T) {
	for _, tc := range []struct {
		version byte
		ecc     bool
	}{
		{0x10, false}, {Applet11, false}, {0x12, false}, {Applet17, false},
		{Applet18, true}, {0x19, true}, {0x20, true}, {0xFF, true},
	} {
		cd, err := ParseCardData(hexBytes(cardDataHex(tc.version)))
		if err != nil {
			t.Errorf("applet %02X: %v", tc.version, err)
			continue
		}
		if cd.ECC() != tc.ecc {
			t.Errorf("applet %02X: ECC() = %v, want %v", tc.version, cd.ECC(), tc.ecc)
		}
	}
}

func TestCardDataCached(t *testing.T) {
	s := newScript(t, step{"80E400001C", cardDataHex(Applet18) + "9000"})
	c := New(s)
	a, err := c.CardData(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a.Serial[0] ^= 0xFF // the caller's copy, not the cache
	b, err := c.CardData(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if b.Serial[0] != 0x53 {
		t.Error("CardData hands out its cache")
	}
}

func TestCardDataRecoversApplet(t *testing.T) {
	const selectApplet = "00A4040C0F A000000030290570 00AD13100101FF"
	s := newScript(t,
		step{"80E400001C", "6D00"},
		step{selectApplet, "9000"},
		step{"80E400001C", cardDataHex(Applet17) + "9000"},
	)
	if _, err := New(s).CardData(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.done()

	for _, tc := range [][]step{
		{{"80E400001C", "6E00"}, {selectApplet, "6A82"}},
		{{"80E400001C", "6D00"}, {selectApplet, "9000"}, {"80E400001C", "6D00"}},
		{{"80E400001C", "0102039000"}},
	} {
		s := newScript(t, tc...)
		_, err := New(s).CardData(context.Background())
		s.done()
		if !errors.Is(err, ErrNotBelpic) {
			t.Errorf("%v: %v, want ErrNotBelpic", tc, err)
		}
	}
}
