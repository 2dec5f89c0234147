package tray

import (
	"bytes"
	"image/png"
	"runtime"
	"testing"
)

func TestStateNamesAndIcons(t *testing.T) {
	seen := map[string]State{}
	for s := StateStarting; s <= StateBusy; s++ {
		if s.String() == "unknown" {
			t.Errorf("state %d has no name", s)
		}
		icon := s.Icon()
		if runtime.GOOS != "windows" {
			img, err := png.Decode(bytes.NewReader(icon))
			if err != nil {
				t.Fatalf("%v icon: %v", s, err)
			}
			if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
				t.Errorf("%v icon is %v", s, b)
			}
		}
		if prev, dup := seen[string(icon)]; dup {
			t.Errorf("%v and %v share an icon", s, prev)
		}
		seen[string(icon)] = s
	}
	if State(99).String() != "unknown" || len(State(99).Icon()) == 0 {
		t.Error("out-of-range state not handled")
	}
}

func TestICOWrapsPNG(t *testing.T) {
	data, err := icons.ReadFile("icons/card.ico")
	if err != nil {
		t.Fatal(err)
	}
	// ICONDIR: reserved 0, type 1, count 1; the entry's image is a PNG.
	if !bytes.Equal(data[:6], []byte{0, 0, 1, 0, 1, 0}) || !bytes.Equal(data[22:30], []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("bad ICO header % x", data[:30])
	}
}
