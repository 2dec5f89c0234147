package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMaskNationalNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"85073003328", "850730*****"},
		{"nn=85073003328.", "nn=850730*****."},
		{"85.07.30-033.28", "85.07.30-***.**"},
		{"850730-033-28", "850730-***-**"},
		{"85-07-30-033-28", "85-07-30-***-**"},
		{"2026-11-25", "2026-11-25"}, // a date stays
		{"a 85073003328 b 90010112345", "a 850730***** b 900101*****"},
		{"card 592123456789", "card 592123456789"},       // 12 digits: a card number, not a national number
		{"1234567890", "1234567890"},                     // 10 digits
		{"ts 20261125143000123", "ts 20261125143000123"}, // longer run
		{"chip 534c494e3302082a85073003328", "chip 534c494e3302082a850730*****"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskNationalNumbers(tt.in); got != tt.want {
			t.Errorf("MaskNationalNumbers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type nnValuer struct{}

func (nnValuer) LogValue() slog.Value { return slog.StringValue("85073003328") }

func TestRedactorDropsPINsAndMasks(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewRedactor(slog.NewJSONHandler(&buf, nil)))
	log = log.With("PIN", "9999", "session", "s1")
	log.Info("read identity of 85073003328",
		"pin", "1234", "newPin", "5678", "Puk", "111111111111",
		"pinpad", false,
		"nationalNumber", "85073003328",
		"nnInt", int64(85073003328),
		"err", errors.New("card of 85.07.30-033.28 refused"),
		"valuer", nnValuer{},
		slog.Group("person", "pin", "4321", "nn", "85073003328", "name", "Alice"),
		"bytes", []byte("85073003328"),
		"struct", struct{ NN string }{"85073003328"},
		"request", struct {
			Op    string
			PIN   string
			Inner map[string]any
		}{"verify", "2468", map[string]any{"oldPin": "1357", "nn": 85073003328}},
		"float", float64(85073003328),
		"unmarshalable", unmarshalable{Pin: "8642", F: func() {}},
	)
	out := buf.String()
	for _, secret := range []string{"1234", "5678", "9999", "4321", "111111111111", "85073003328", "033.28", "2468", "1357", "8642", "e+10"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pin", "PIN", "newPin", "Puk"} {
		if _, ok := rec[k]; ok {
			t.Errorf("attribute %q kept", k)
		}
	}
	if rec["nationalNumber"] != "850730*****" || rec["msg"] != "read identity of 850730*****" {
		t.Errorf("not masked: %v", rec)
	}
	if rec["pinpad"] != false || rec["session"] != "s1" {
		t.Errorf("harmless attributes lost: %v", rec)
	}
	if g := rec["person"].(map[string]any); g["name"] != "Alice" || g["pin"] != nil || g["nn"] != "850730*****" {
		t.Errorf("group = %v", g)
	}
}

// unmarshalable fails json.Marshal (a func field), so the redactor falls
// back to its %+v text.
type unmarshalable struct {
	Pin string
	F   func()
}

func TestRedactorKeepsHarmlessStructure(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewRedactor(slog.NewJSONHandler(&buf, nil)))
	log.Info("m", "req", map[string]any{"op": "sign", "pinpad": true, "tries": 3, "pin": "0000"}, "ratio", 1.5)
	var rec struct {
		Req   map[string]any
		Ratio float64
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Req["op"] != "sign" || rec.Req["pinpad"] != true || rec.Req["tries"] != float64(3) || rec.Ratio != 1.5 {
		t.Errorf("harmless values changed: %s", buf.String())
	}
	if _, ok := rec.Req["pin"]; ok {
		t.Errorf("pin kept: %s", buf.String())
	}
}

func TestNewWritesJSONAndRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "cardbridge", FileName)
	log, closer, err := New(Options{Path: path, MaxSizeMB: 1, MaxBackups: 2})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "pin", "1234", "nn", "85073003328")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(data), &rec); err != nil || rec["msg"] != "hello" {
		t.Fatalf("first line %q: %v", data, err)
	}
	if strings.Contains(string(data), "1234") || strings.Contains(string(data), "85073003328") {
		t.Errorf("secret in file: %s", data)
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Errorf("log dir mode %v", fi.Mode().Perm())
	}
	// Write ~3.5 MiB: with 1 MiB files and 2 backups at most 3 files
	// may remain.
	pad := strings.Repeat("x", 1000)
	for i := 0; i < 3500; i++ {
		log.Info("filler", "pad", pad)
	}
	closer.Close()
	// lumberjack removes backups beyond MaxBackups from a goroutine of its
	// own after each rotation, so the count settles shortly after the last
	// write; a loaded machine saw 4 files right after Close.
	var entries []os.DirEntry
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		entries, _ = os.ReadDir(filepath.Dir(path))
		if len(entries) <= 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(entries) < 2 || len(entries) > 3 {
		t.Errorf("%d log files after rotation, want 2..3", len(entries))
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Size() > 1<<20+4096 {
			t.Errorf("%s is %d bytes, over the bound", e.Name(), fi.Size())
		}
	}
}

func TestNewMakesAnExistingLogPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are POSIX")
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, closer, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestLevelFiltering(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	log, closer, err := New(Options{Path: path, Level: slog.LevelWarn})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("quiet")
	log.Warn("loud")
	closer.Close()
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "quiet") || !strings.Contains(string(data), "loud") {
		t.Errorf("level not applied: %s", data)
	}
}

func TestDefaultPath(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("XDG layout is for Linux and other Unix")
	}
	t.Setenv("XDG_STATE_HOME", "/tmp/xdgstate")
	if p, _ := DefaultPath(); p != "/tmp/xdgstate/cardbridge/cardbridge.log" {
		t.Errorf("with XDG_STATE_HOME: %s", p)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if p, _ := DefaultPath(); p != "/home/u/.local/state/cardbridge/cardbridge.log" {
		t.Errorf("default: %s", p)
	}
}

func TestParseLevel(t *testing.T) {
	if l, err := ParseLevel("debug"); err != nil || l != slog.LevelDebug {
		t.Error(l, err)
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("bad level accepted")
	}
}
