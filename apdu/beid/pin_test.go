package beid

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func TestPINBlock(t *testing.T) {
	for _, tc := range []struct {
		pin  string
		want string
	}{
		{"1234", "241234FFFFFFFFFF"},
		{"12345", "2512345FFFFFFFFF"},
		{"000000", "26000000FFFFFFFF"},
		{"98765432", "2898765432FFFFFF"},
		{"123456789012", "2C123456789012FF"},
	} {
		b, err := pinBlock([]byte(tc.pin))
		if err != nil {
			t.Errorf("pinBlock(%s): %v", tc.pin, err)
			continue
		}
		if got := bytes2hex(b[:]); got != tc.want {
			t.Errorf("pinBlock(%s) = %s, want %s", tc.pin, got, tc.want)
		}
	}
	for _, bad := range []string{"", "123", "1234567890123", "12a4", "12 34", "١٢٣٤", "12\x0034"} {
		if _, err := pinBlock([]byte(bad)); !errors.Is(err, ErrInvalidPIN) {
			t.Errorf("pinBlock(%q) = %v, want ErrInvalidPIN", bad, err)
		}
	}
}

func TestVerifyPIN(t *testing.T) {
	const verify1234 = "0020000108 241234FFFFFFFFFF"
	for _, tc := range []struct {
		sw    string
		want  error
		tries int
	}{
		{"9000", nil, -1},
		{"63C2", ErrWrongPIN, 2},
		{"63C1", ErrWrongPIN, 1},
		{"63C0", ErrPINBlocked, 0},
		{"6983", ErrPINBlocked, 0},
		{"6A88", apdu.ErrReferenceNotFound, -1},
	} {
		s := newScript(t, step{verify1234, tc.sw})
		err := New(s).VerifyPIN(context.Background(), []byte("1234"))
		s.done()
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("SW %s: %v, want %v", tc.sw, err, tc.want)
		}
		var pe *PINError
		if errors.As(err, &pe) != (tc.tries >= 0) || (pe != nil && pe.TriesLeft != tc.tries) {
			t.Errorf("SW %s: %#v, want tries %d", tc.sw, pe, tc.tries)
		}
		if err != nil && strings.Contains(err.Error(), "1234") {
			t.Errorf("SW %s: error %q shows the PIN", tc.sw, err)
		}
	}
	if errors.Is(&PINError{TriesLeft: 2}, ErrPINBlocked) {
		t.Error("PINError with tries left matches ErrPINBlocked")
	}
}

func TestVerifyPINMalformedSendsNothing(t *testing.T) {
	for _, pin := range []string{"", "12", "abcd", "1234567890123"} {
		s := newScript(t) // any command fails the test
		if err := New(s).VerifyPIN(context.Background(), []byte(pin)); !errors.Is(err, ErrInvalidPIN) {
			t.Errorf("VerifyPIN(%q) = %v, want ErrInvalidPIN", pin, err)
		}
	}
}

// wipeCheck records the command it was given and checks, after the call,
// that the PIN block inside it has been wiped.
type wipeCheck struct{ last []byte }

func (w *wipeCheck) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	w.last = cmd
	return []byte{0x90, 0x00}, nil
}

func TestVerifyPINWipesBlock(t *testing.T) {
	w := &wipeCheck{}
	if err := New(w).VerifyPIN(context.Background(), []byte("4321")); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.last {
		if c != 0 {
			t.Fatalf("command buffer still holds % X after VerifyPIN", w.last)
		}
	}
}

// cardDataHex is a GET CARD DATA answer (P2=00 form) for the applet.
func cardDataHex(applet byte) string {
	// serial(16) component OS-number OS-version softmask softmask-version
	// applet global-OS(2) interface PKCS#1 key-exchange life-cycle
	return fmt.Sprintf("534C494E336600123456789012345678 90 01 11 00 00 %02X 0003 00 21 01 0F", applet)
}

func TestPINTriesLeft(t *testing.T) {
	ctx := context.Background()
	cd17, cd18, cd11 := cardDataHex(Applet17), cardDataHex(Applet18), cardDataHex(Applet11)
	for _, tc := range []struct {
		name  string
		steps []step
		want  int
		err   error
	}{
		{"1.7 not verified", []step{{"80E400001C", cd17 + "9000"}, {"00200001", "63C2"}}, 2, nil},
		{"1.7 verified", []step{{"80E400001C", cd17 + "9000"}, {"00200001", "9000"}}, MaxPINTries, nil},
		{"1.7 blocked", []step{{"80E400001C", cd17 + "9000"}, {"00200001", "6983"}}, 0, ErrPINBlocked},
		{"1.8", []step{{"80E400001C", cd18 + "9000"}, {"80E400011F", cd18 + "01FFFF9000"}}, 1, nil},
		{"1.8 blocked", []step{{"80E400001C", cd18 + "9000"}, {"80E400011F", cd18 + "00FFFF9000"}}, 0, ErrPINBlocked},
		{"1.8 no count", []step{{"80E400001C", cd18 + "9000"}, {"80E400011F", cd18 + "FFFFFF9000"}, {"00200001", "63C3"}}, 3, nil},
		{"1.1", []step{{"80E400001C", cd11 + "9000"}}, 0, ErrUnsupported},
	} {
		s := newScript(t, tc.steps...)
		n, err := New(s).PINTriesLeft(ctx)
		s.done()
		if n != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: %d, %v; want %d, %v", tc.name, n, err, tc.want, tc.err)
		}
	}
}

func TestPinpadVerifyStructure(t *testing.T) {
	want := "1E1E" + // bTimerOut, bTimerOut2
		"89" + // bmFormatString
		"47" + // bmPINBlockString
		"04" + // bmPINLengthFormat
		"0C04" + // wPINMaxExtraDigit: max 12, min 4, little endian
		"02" + // bEntryValidationCondition
		"01" + // bNumberMessage
		"0904" + // wLangId 0x0409, little endian
		"00" + // bMsgIndex
		"000000" + // bTeoPrologue
		"0D000000" + // ulDataLength 13
		"00200001 08 20FFFFFFFFFFFFFF"
	if got := bytes2hex(PinpadVerifyStructure(PinpadOptions{})); got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("PinpadVerifyStructure =\n %s\nwant\n %s", got, want)
	}
}

// TestPinpadPerReader is D7: the official middleware's reader fixes and
// the reader's prompts in the user's language.
func TestPinpadPerReader(t *testing.T) {
	const spr = "SCM Microsystems Inc. SPRx32 USB Smart Card Reader 00 00"
	for _, tc := range []struct {
		name   string
		o      PinpadOptions
		format byte
		max    byte
		lang   uint16
	}{
		{"default", PinpadOptions{Reader: "Cherry SmartTerminal ST-2xxx 00 00"}, 0x89, 12, 0x0409},
		{"old SPR532", PinpadOptions{Reader: spr, Firmware: 0x0505}, 0x01, 12, 0x0409},
		{"SPR532 5.06", PinpadOptions{Reader: spr, Firmware: 0x0506}, 0x89, 12, 0x0409},
		{"SPR532 firmware unknown", PinpadOptions{Reader: spr}, 0x89, 12, 0x0409},
		{"old firmware, other reader", PinpadOptions{Reader: "Some Reader 00 00", Firmware: 0x0100}, 0x89, 12, 0x0409},
		{"GemPC Pinpad", PinpadOptions{Reader: "Gemplus GemPC Pinpad 00 00"}, 0x89, 8, 0x0409},
		{"Dutch", PinpadOptions{Language: "nl"}, 0x89, 12, 0x0813},
		{"French", PinpadOptions{Language: "FR"}, 0x89, 12, 0x080C},
		{"German", PinpadOptions{Language: "de"}, 0x89, 12, 0x0407},
		{"unknown language", PinpadOptions{Language: "it"}, 0x89, 12, 0x0409},
	} {
		b := PinpadVerifyStructure(tc.o)
		if b[2] != tc.format || b[5] != tc.max || b[6] != MinPINLength || binary.LittleEndian.Uint16(b[9:11]) != tc.lang {
			t.Errorf("%s: % X, want format %02X, max %d, language %04X", tc.name, b, tc.format, tc.max, tc.lang)
		}
	}
}

// readerPinpad is a fakePinpad that says which reader it is.
type readerPinpad struct {
	fakePinpad
	name     string
	firmware uint16
}

func (p *readerPinpad) PinpadReader(context.Context) (string, uint16) { return p.name, p.firmware }

func TestVerifyPINPinpadReader(t *testing.T) {
	p := &readerPinpad{fakePinpad: fakePinpad{resp: "9000"}, name: "SCM Microsystems Inc. SPRx32 USB Smart Card Reader 0", firmware: 0x0400}
	if err := New(newScript(t)).VerifyPINPinpad(context.Background(), p, "fr"); err != nil {
		t.Fatal(err)
	}
	want := PinpadVerifyStructure(PinpadOptions{Reader: p.name, Firmware: p.firmware, Language: "fr"})
	if bytes2hex(p.got) != bytes2hex(want) || p.got[2] != 0x01 {
		t.Errorf("pinpad got % X, want % X", p.got, want)
	}
}

type fakePinpad struct {
	resp string
	err  error
	got  []byte
}

func (p *fakePinpad) VerifyPINDirect(_ context.Context, s []byte) ([]byte, error) {
	p.got = s
	if p.err != nil {
		return nil, p.err
	}
	return hexBytes(p.resp), nil
}

func TestVerifyPINPinpad(t *testing.T) {
	broken := errors.New("reader unplugged")
	for _, tc := range []struct {
		resp string
		err  error
		want error
	}{
		{"9000", nil, nil},
		{"63C2", nil, ErrWrongPIN},
		{"6983", nil, ErrPINBlocked},
		{"6400", nil, ErrPinpadTimeout},
		{"6401", nil, ErrPinpadCancelled},
		{"6403", nil, ErrInvalidPIN},
		{"6B80", nil, apdu.ErrUnexpectedStatusWord},
		{"90", nil, apdu.ErrMalformedResponse},
		{"", broken, broken},
	} {
		p := &fakePinpad{resp: tc.resp, err: tc.err}
		err := New(newScript(t)).VerifyPINPinpad(context.Background(), p, "nl")
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("pinpad answer %q: %v, want %v", tc.resp, err, tc.want)
		}
		if bytes2hex(p.got) != bytes2hex(PinpadVerifyStructure(PinpadOptions{Language: "nl"})) {
			t.Errorf("pinpad got % X", p.got)
		}
	}
	if err := New(newScript(t)).VerifyPINPinpad(context.Background(), nil, ""); !errors.Is(err, ErrUnsupported) {
		t.Errorf("nil pinpad: %v", err)
	}
}
