package bridge

import (
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Gemalto IDPrime 840: a card family that shares the historical bytes
// 80 31 80 65 B0 85 with applet 1.8 Belgian eID cards, and which the
// bridge's own fragment match used to take for one.
const idPrimeATR = "3B7F96000080318065B0850300EF120FFE829000"

const (
	beid18ATR = "3B7F96000080318065B085040120120FFF829000"
	beid17ATR = "3B9813400AA503010101AD1311"
)

func TestReadersJSONCardType(t *testing.T) {
	for _, tc := range []struct {
		atr, want string
	}{
		{beid18ATR, "beid"},
		{beid17ATR, "beid"},
		{idPrimeATR, "unknown"},
		{"3BFD1300008131FE158073C021C057597562694B657940", "unknown"}, // a YubiKey
	} {
		got := readersJSON([]ReaderInfo{{Name: "R", CardPresent: true, ATR: mustHex(t, tc.atr)}})
		if len(got) != 1 || got[0].Card == nil || got[0].Card.Type != tc.want || got[0].Card.ATR != tc.atr {
			t.Errorf("ATR %s: %+v, want type %s", tc.atr, got, tc.want)
		}
	}
	if got := readersJSON([]ReaderInfo{{Name: "R"}}); got[0].Card != nil {
		t.Errorf("empty reader has card %+v", got[0].Card)
	}
}

func TestPickReader(t *testing.T) {
	card := func(name, atr string) ReaderInfo {
		return ReaderInfo{Name: name, CardPresent: true, ATR: mustHex(t, atr)}
	}
	empty := ReaderInfo{Name: "E"}
	for _, tc := range []struct {
		name     string
		list     []ReaderInfo
		want     string // reader picked, or the error code
		wantCode Code
	}{
		{"no reader", nil, "", CodeNoReader},
		{"no card", []ReaderInfo{empty}, "", CodeNoCard},
		{"one eID among other cards", []ReaderInfo{card("A", idPrimeATR), empty, card("B", beid18ATR)}, "B", ""},
		{"two eIDs", []ReaderInfo{card("A", beid17ATR), card("B", beid18ATR)}, "", CodeAmbiguousReader},
		{"one unknown card is tried", []ReaderInfo{empty, card("A", idPrimeATR)}, "A", ""},
		{"two unknown cards", []ReaderInfo{card("A", idPrimeATR), card("B", idPrimeATR)}, "", CodeAmbiguousReader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickReader(tc.list)
			switch {
			case tc.wantCode != "":
				if err == nil || err.Code != tc.wantCode {
					t.Errorf("picked %q, err %v; want %s", got.Name, err, tc.wantCode)
				}
			case err != nil || got.Name != tc.want:
				t.Errorf("picked %q, err %v; want %q", got.Name, err, tc.want)
			}
		})
	}
}
