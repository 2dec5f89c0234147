package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct {
		in        string
		allowHTTP bool
		want      string // "" means error
	}{
		{"https://Portal.Example.BE", false, "https://portal.example.be"},
		{"HTTPS://example.com:443", false, "https://example.com"},
		{"https://example.com:8443", false, "https://example.com:8443"},
		{"https://example.com/", false, "https://example.com"},
		{"https://xn--bcher-kva.example", false, "https://xn--bcher-kva.example"},
		{"https://[::1]:8443", false, "https://[::1]:8443"},
		{"https://127.0.0.1", false, "https://127.0.0.1"},
		{"http://localhost:8080", true, "http://localhost:8080"},
		{"http://localhost:80", true, "http://localhost"},
		{"http://localhost:8080", false, ""},
		{"https://bücher.example", false, ""},
		{"https://example.com/path", false, ""},
		{"https://example.com?q", false, ""},
		{"https://example.com#f", false, ""},
		{"https://user@example.com", false, ""},
		{"https://exa mple.com", false, ""},
		{"https://example.com\n", false, ""},
		{"https://example.com:0", false, ""},
		{"https://example.com:99999", false, ""},
		{"https://example.com:", false, ""},
		{"https://-bad.example", false, ""},
		{"https://", false, ""},
		{"null", false, ""},
		{"", false, ""},
		{"file:///etc/passwd", false, ""},
		{"javascript:alert(1)", false, ""},
		{"https://" + strings.Repeat("a", 64) + ".example", false, ""},
	}
	for _, tt := range tests {
		got, err := NormalizeOrigin(tt.in, tt.allowHTTP)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrBadOrigin) {
				t.Errorf("NormalizeOrigin(%q) = %q, %v; want ErrBadOrigin", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLoadMissingIsDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope", FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Origins) != 0 || c.EffectivePort() != DefaultPort || c.PromptTimeout() != DefaultPromptTimeout {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cardbridge", FileName)
	want := Config{
		Origins:              []AllowedOrigin{{Origin: "https://a.example", Added: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Via: ViaConsentPrompt}},
		Language:             "nl",
		Port:                 27200,
		PromptTimeoutSeconds: 30,
	}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got.PromptTimeout() != 30*time.Second || got.EffectivePort() != 27200 {
		t.Fatalf("derived values wrong: %v %v", got.PromptTimeout(), got.EffectivePort())
	}
}

func TestCorruptFileMovedAsideAndNothingAllowed(t *testing.T) {
	for _, content := range []string{
		`{"origins":[{"origin":"https://a.example"}`, // truncated
		`garbage`,
		`{"origins":"all"}`, // wrong type
		`{"origins":[]} {"origins":[{"origin":"https://evil.example"}]}`,
		"\x00\x00\x00",
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, StoreOptions{})
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
			t.Fatalf("%q: err = %v, want ErrCorrupt", content, err)
		}
		if s == nil {
			t.Fatalf("%q: no store returned", content)
		}
		for _, o := range []string{"https://a.example", "https://evil.example", "https://x.example"} {
			if s.Allowed(o) {
				t.Errorf("%q: corrupt file allows %s", content, o)
			}
		}
		if len(s.List()) != 0 {
			t.Errorf("%q: list = %v", content, s.List())
		}
		kept, err := os.ReadFile(ce.MovedTo)
		if err != nil || string(kept) != content {
			t.Errorf("%q: corrupt file not kept aside: %v %q", content, err, kept)
		}
		if !strings.HasPrefix(filepath.Base(ce.MovedTo), FileName+".corrupt-") {
			t.Errorf("aside name %q", ce.MovedTo)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%q: corrupt file still in place", content)
		}
		// The store keeps working and writes a fresh file.
		if err := s.Allow("https://new.example"); err != nil {
			t.Fatal(err)
		}
		if got := s.List(); len(got) != 1 || got[0] != "https://new.example" {
			t.Errorf("after recovery list = %v", got)
		}
	}
}

func TestInvalidValuesDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, []byte(`{"origins":[{"origin":"https://ok.example"},{"origin":"http://plain.example"},{"origin":"*"},{"origin":"HTTPS://OK.example:443"}],
		"language":"xx","port":70000,"promptTimeoutSeconds":-1}`), 0o600)
	c, err := Load(path)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if len(c.Origins) != 1 || c.Origins[0].Origin != "https://ok.example" {
		t.Errorf("origins = %+v", c.Origins)
	}
	if c.Language != "" || c.Port != 0 || c.PromptTimeoutSeconds != 0 {
		t.Errorf("bad values kept: %+v", c)
	}
}

func TestStoreAllowRevokePersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb", FileName)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s, err := Open(path, StoreOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Allowed("https://portal.example") {
		t.Fatal("empty store allows")
	}
	if err := s.Allow("https://Portal.Example:443/"); err != nil {
		t.Fatal(err)
	}
	if err := s.Allow("https://portal.example"); err != nil { // duplicate is harmless
		t.Fatal(err)
	}
	if err := s.Allow("http://dev.example"); !errors.Is(err, ErrBadOrigin) {
		t.Fatalf("http origin accepted outside dev mode: %v", err)
	}
	if !s.Allowed("https://portal.example") || s.Allowed("https://portal.example:8443") || s.Allowed("https://other.example") {
		t.Fatal("Allowed wrong")
	}
	// A second store (another process) sees the change.
	s2, err := Open(path, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := s2.Origins()
	if len(o) != 1 || o[0].Origin != "https://portal.example" || !o[0].Added.Equal(now) || o[0].Via != ViaConsentPrompt {
		t.Fatalf("persisted = %+v", o)
	}
	if err := s2.Revoke("https://PORTAL.example"); err != nil {
		t.Fatal(err)
	}
	// The first store notices the file changed.
	if s.Allowed("https://portal.example") {
		t.Fatal("revocation by another store not seen")
	}
	if err := s.Revoke("https://never.example"); err != nil {
		t.Fatal(err)
	}
}

func TestStoreDevHTTP(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), FileName), StoreOptions{AllowHTTP: true})
	if err := s.Allow("http://localhost:8080"); err != nil {
		t.Fatal(err)
	}
	if !s.Allowed("http://localhost:8080") {
		t.Fatal("dev http origin not allowed")
	}
}

// TestConcurrentWriters has goroutines on two Stores (standing in for two
// processes) add origins at once; none may be lost.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	stores := make([]*Store, 2)
	for i := range stores {
		stores[i], _ = Open(path, StoreOptions{})
	}
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stores[i%2].Allow(fmt.Sprintf("https://o%d.example", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	final, _ := Open(path, StoreOptions{})
	if got := len(final.List()); got != n {
		t.Fatalf("%d origins persisted, want %d", got, n)
	}
	for i := 0; i < n; i++ {
		if !stores[i%2].Allowed(fmt.Sprintf("https://o%d.example", i)) {
			t.Errorf("o%d lost", i)
		}
	}
}

// TestAtomicWrite reads the file continuously while writers rewrite it:
// every read must be a complete, valid file, and no temporary files may be
// left behind.
func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	s, _ := Open(path, StoreOptions{})
	if err := s.Allow("https://first.example"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var reads, bad int
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			data, err := os.ReadFile(path)
			if err != nil {
				bad++
				continue
			}
			reads++
			var c Config
			if json.Unmarshal(data, &c) != nil || len(c.Origins) == 0 {
				bad++
			}
		}
	}()
	// Large entries make a torn write likely to be caught if the
	// implementation wrote in place.
	long := strings.Repeat("x", 60)
	for i := 0; i < 100; i++ {
		if err := s.Allow(fmt.Sprintf("https://%s%d.example", long, i)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	readerWG.Wait()
	if bad != 0 {
		t.Fatalf("%d of %d reads saw a missing or partial file", bad, reads)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != FileName && e.Name() != FileName+".lock" {
			t.Errorf("leftover file %s", e.Name())
		}
	}
}

func TestRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, _ := Open(path, StoreOptions{})
	s.Allow("https://a.example")
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("config still there")
	}
}
