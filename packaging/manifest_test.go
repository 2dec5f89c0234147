package packaging

import (
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestManifestsGenerated fails when packaging/manifests differs from what
// `go run ./packaging/pkgtool manifests packaging` writes (run it after
// changing manifest.go), or holds a file the generator does not write.
func TestManifestsGenerated(t *testing.T) {
	want := map[string]bool{}
	for _, f := range Files {
		want[f.Path] = true
		if got := string(committed(t, f.Path)); got != string(f.Content()) {
			t.Errorf("%s is stale; regenerate with go run ./packaging/pkgtool manifests packaging\n got: %s\nwant: %s", f.Path, got, f.Content())
		}
	}
	err := filepath.WalkDir("manifests", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !want[filepath.ToSlash(p)] {
			t.Errorf("%s is not generated: remove it or add it to Files", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestManifestContract checks every shipped manifest against the values
// shared with the extension and the daemon, as the browsers read them.
func TestManifestContract(t *testing.T) {
	for _, f := range Files {
		var m map[string]any
		if err := json.Unmarshal(committed(t, f.Path), &m); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		keys := []string{"name", "description", "path", "type"}
		if f.Family == Firefox {
			keys = append(keys, "allowed_extensions")
		} else {
			keys = append(keys, "allowed_origins")
		}
		if len(m) != len(keys) {
			t.Errorf("%s has keys %v; want exactly %v", f.Path, m, keys)
		}
		if m["name"] != "org.cardbridge.host" || m["type"] != "stdio" || m["description"] != "cardbridge: Belgian eID for web pages" {
			t.Errorf("%s: name/type/description = %v/%v/%v", f.Path, m["name"], m["type"], m["description"])
		}
		// On Linux and macOS the browsers find the host by file name.
		if f.Platform != "windows" && filepath.Base(f.Path) != "org.cardbridge.host.json" {
			t.Errorf("%s: the file must be named org.cardbridge.host.json", f.Path)
		}
		path, _ := m["path"].(string)
		switch f.Platform {
		case "linux":
			if path != "/usr/bin/cardbridge" {
				t.Errorf("%s: path %q; want /usr/bin/cardbridge", f.Path, path)
			}
		case "windows":
			// Relative to the manifest, which the MSI installs beside
			// the program.
			if path != "cardbridge.exe" {
				t.Errorf("%s: path %q; want cardbridge.exe", f.Path, path)
			}
		case "macos":
			if path != "@HOME@/Library/Application Support/cardbridge/cardbridge" {
				t.Errorf("%s: path %q", f.Path, path)
			}
		}
		var allowed []any
		var want string
		if f.Family == Firefox {
			allowed, _ = m["allowed_extensions"].([]any)
			want = "cardbridge@cardbridge.org"
		} else {
			allowed, _ = m["allowed_origins"].([]any)
			want = "chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk/"
		}
		if len(allowed) != 1 || allowed[0] != want {
			t.Errorf("%s allows %v; want only %s", f.Path, allowed, want)
		}
		if strings.Contains(string(committed(t, f.Path)), `\u0026`) {
			t.Errorf("%s: HTML-escaped JSON", f.Path)
		}
	}
}
