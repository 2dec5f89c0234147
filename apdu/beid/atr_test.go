package beid

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestRecognizeATR(t *testing.T) {
	tests := []struct {
		atr  string
		want Generation
	}{
		{"3B7F96000080318065B0850401201 20FFF829000", GenerationECC},
		{"3B9813400AA503010101AD1311", GenerationRSA},     // applet 1.1 and 1.7
		{"3B9894400AA503010101AD1310", GenerationRSA},     // applet 1.0, EMV-compatible ATR
		{"3B989440FFA503010101AD1310", GenerationRSA},     // beta/1.0
		{"3B9813400AA503010101AD1321", GenerationUnknown}, // last nibble outside the family
		{"3B7F96000080318065B08504012012 0FFF829001", GenerationUnknown},
		{"3BFD1300008131FE158073C021C057597562694B657940", GenerationUnknown}, // a YubiKey
		{"", GenerationUnknown},
	}
	for _, tt := range tests {
		atr, err := hex.DecodeString(strings.ReplaceAll(tt.atr, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		if got := RecognizeATR(atr); got != tt.want {
			t.Errorf("RecognizeATR(%s) = %v, want %v", tt.atr, got, tt.want)
		}
	}
}
