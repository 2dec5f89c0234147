package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/packaging"
)

// TestInstallerAgrees checks that the manifests the packages ship are,
// byte for byte, what `cardbridge install` writes for the same program
// path (installer.ManifestJSON), for every browser each file serves.
func TestInstallerAgrees(t *testing.T) {
	browsers := map[packaging.Family][]string{
		packaging.Chromium: {"chrome", "chromium", "edge"},
		packaging.Firefox:  {"firefox"},
	}
	for _, f := range packaging.Files {
		shipped, err := os.ReadFile(filepath.FromSlash(f.Path))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range browsers[f.Family] {
			want, err := installer.ManifestJSON(b, f.Binary)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(shipped, want) {
				t.Errorf("%s differs from what cardbridge install writes for %s:\n%s\nwant:\n%s", f.Path, b, shipped, want)
			}
		}
	}
}

// TestPackagedProgramAgrees runs the program the .deb ships with
// `cardbridge native-manifest` and compares its answer with the manifests
// the same package installs.
func TestPackagedProgramAgrees(t *testing.T) {
	deb := filepath.Join("..", "dist", "cardbridge-linux-amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		if os.Getenv("CARDBRIDGE_RELEASE") == "required" {
			t.Fatalf("CARDBRIDGE_RELEASE=required: %s not built", deb)
		}
		t.Skipf("*** RELEASE TEST SKIPPED: %s not built (run scripts/release.sh)", deb)
	}
	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for browser, manifest := range map[string]string{
		"chrome":   "etc/opt/chrome/native-messaging-hosts/org.cardbridge.host.json",
		"chromium": "etc/chromium/native-messaging-hosts/org.cardbridge.host.json",
		"edge":     "etc/opt/edge/native-messaging-hosts/org.cardbridge.host.json",
		"firefox":  "usr/lib/mozilla/native-messaging-hosts/org.cardbridge.host.json",
	} {
		cmd := exec.Command(filepath.Join(root, "usr/bin/cardbridge"), "native-manifest", "--browser", browser, "--path", "/usr/bin/cardbridge")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("packaged cardbridge native-manifest --browser %s: %v\n%s", browser, err, stderr.Bytes())
		}
		shipped, err := os.ReadFile(filepath.Join(root, manifest))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, shipped) {
			t.Errorf("/%s differs from the packaged program's manifest for %s:\n%s\nwant:\n%s", manifest, browser, shipped, got)
		}
	}
}
