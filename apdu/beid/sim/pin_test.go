package sim

import (
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
)

func TestPINBlock(t *testing.T) {
	tests := []struct {
		block string
		pin   string
		ok    bool
	}{
		{"24 12 34 FF FF FF FF FF", "1234", true},
		{"25 12 34 5F FF FF FF FF", "12345", true},
		{"2C 12 34 56 78 90 12 FF", "123456789012", true},
		{"24 12 34 FF FF FF FF FE", "", false}, // padding not F
		{"24 12 3A FF FF FF FF FF", "", false}, // not a digit
		{"23 12 3F FF FF FF FF FF", "", false}, // too short
		{"2D 12 34 56 78 90 12 3F", "", false}, // too long
		{"34 12 34 FF FF FF FF FF", "", false}, // control nibble
		{"24 12 34 F0 FF FF FF FF", "", false},
	}
	for _, tt := range tests {
		pin, ok := decodePINBlock(h(t, tt.block))
		if ok != tt.ok || string(pin) != tt.pin {
			t.Errorf("decodePINBlock(%s) = %q, %v; want %q, %v", tt.block, pin, ok, tt.pin, tt.ok)
		}
	}
	if _, ok := decodePINBlock(h(t, "24 12 34 FF")); ok {
		t.Error("short block accepted")
	}
}

func TestVerify(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			tests := []struct {
				name      string
				steps     []step
				triesLeft int
			}{
				{"status costs nothing", []step{
					{"00 20 00 01", 0x63C3},
					{"00 20 00 01 00", 0x63C3}, // Lc=0 form
					{verify1234, apdu.SWOK},
					{"00 20 00 01", apdu.SWOK},
				}, 3},
				{"wrong PIN counts down, right one restores", []step{
					{verifyBad, 0x63C2},
					{"00 20 00 01", 0x63C2},
					{verifyBad, 0x63C1},
					{verify1234, apdu.SWOK},
					{"00 20 00 01", apdu.SWOK},
				}, 3},
				{"blocked after three", []step{
					{verifyBad, 0x63C2},
					{verifyBad, 0x63C1},
					{verifyBad, 0x63C0},
					{verify1234, apdu.SWAuthMethodBlocked},
					{verifyBad, apdu.SWAuthMethodBlocked},
					{"00 20 00 01", apdu.SWAuthMethodBlocked},
				}, 0},
				{"wrong PIN ends verified state", []step{
					{verify1234, apdu.SWOK},
					{verifyBad, 0x63C2},
					{"00 20 00 01", 0x63C2},
				}, 2},
				// S7: the manual has no status word that spares a try for
				// a malformed block; it is a failed verification.
				{"malformed blocks are wrong PINs", []step{
					{verify1234, apdu.SWOK},
					{"00 20 00 01 08 24 12 34 FF FF FF FF 00", 0x63C2},
					{"00 20 00 01", 0x63C2},
					{"00 20 00 01 08 14 12 34 FF FF FF FF FF", 0x63C1},
				}, 1},
				{"wrong lengths cost nothing", []step{
					{"00 20 00 01 04 24 12 34 FF", apdu.SWWrongLength},
					{"00 20 00 01 09 24 12 34 FF FF FF FF FF FF", apdu.SWWrongLength},
					{"00 20 00 01", 0x63C3},
				}, 3},
				{"wrong reference and P1", []step{
					{"00 20 00 02 08 24 12 34 FF FF FF FF FF", apdu.SWReferenceNotFound},
					{"00 20 01 01 08 24 12 34 FF FF FF FF FF", apdu.SWIncorrectP1P2},
				}, 3},
				{"longer PIN is just wrong", []step{
					{"00 20 00 01 08 " + pinBlock("123456"), 0x63C2},
				}, 2},
				{"LOG OFF ends verified state", []step{
					{verify1234, apdu.SWOK},
					{"80 E6 00 00", apdu.SWOK},
					{"00 20 00 01", 0x63C3},
					{"80 E6 00 01", apdu.SWWrongP1P2},
				}, 3},
				{"change PIN", []step{
					{"00 24 00 01 10 " + pinBlock("9999") + pinBlock("5678"), 0x63C2},
					{"00 24 00 01 10 " + pinBlock("1234") + "24 56 78 FF FF FF FF 00", apdu.SWIncorrectData},
					{"00 24 00 01 10 " + pinBlock("1234") + pinBlock("56789"), apdu.SWOK},
					{verify1234, 0x63C2},
					{"00 20 00 01 08 " + pinBlock("56789"), apdu.SWOK},
					{"00 24 00 01 08 " + pinBlock("56789"), apdu.SWWrongLength},
				}, 3},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := newCardShared(t, p)
					run(t, c, tt.steps)
					if got := c.TriesLeft(); got != tt.triesLeft {
						t.Errorf("TriesLeft = %d, want %d", got, tt.triesLeft)
					}
				})
			}
		})
	}
}

// TestResetKeepsTries checks that a power cycle forgets the verified state
// but not the try counter, which lives in EEPROM.
func TestResetKeepsTries(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	run(t, c, []step{{verifyBad, 0x63C2}, {verify1234, apdu.SWOK}, {verifyBad, 0x63C2}})
	c.Reset()
	run(t, c, []step{{"00 20 00 01", 0x63C2}, {verifyBad, 0x63C1}})
	c.Reset()
	expect(t, c, "00 20 00 01", 0x63C1)
	c.Pull()
	c.Reinsert()
	expect(t, c, "00 20 00 01", 0x63C1)
	if c.TriesLeft() != 1 {
		t.Errorf("TriesLeft = %d", c.TriesLeft())
	}
}

func TestCustomPIN(t *testing.T) {
	c, err := New(Options{Profile: ProfileECC, PKI: testPKI[ProfileECC], PIN: "987654321012"})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, []step{
		{verify1234, 0x63C2},
		{"00 20 00 01 08 " + pinBlock("987654321012"), apdu.SWOK},
	})
}
