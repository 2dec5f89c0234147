package packaging

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tests that read built packages need scripts/release.sh's output in
// ../dist and Debian's msitools, dpkg and rpm. Without them they skip
// loudly, unless CARDBRIDGE_RELEASE=required (scripts/test.sh sets it
// after building), which turns the skip into a failure.

func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CARDBRIDGE_RELEASE") == "required" {
		t.Fatalf("CARDBRIDGE_RELEASE=required: "+format, args...)
	}
	t.Skipf("*** RELEASE TEST SKIPPED: "+format, args...)
}

// artefact returns the path of dist/name, built by scripts/release.sh.
func artefact(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "dist", name)
	if _, err := os.Stat(p); err != nil {
		need(t, "dist/%s not built (run scripts/release.sh)", name)
	}
	return p
}

// tool returns the path of a command-line tool, or skips.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		need(t, "%s not installed (scripts/setup.sh release)", name)
	}
	return p
}

// output runs a tool and returns its standard output.
func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// committed reads a file of this directory.
func committed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeExec(path, content string) error { return os.WriteFile(path, []byte(content), 0o755) }

// readFile reads a file the test wrote.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkBuild reads a built program's embedded build settings and checks
// the release settings scripts/release.sh promises: -trimpath (which also
// keeps -ldflags out of the build information), no VCS stamping, the
// expected target and cgo, and the version string set with
// -X main.version.
func checkBuild(t *testing.T, exe, goos, cgo, version string) {
	t.Helper()
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatalf("%s: %v", exe, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"-trimpath": "true", "GOOS": goos, "GOARCH": "amd64", "CGO_ENABLED": cgo, "vcs.revision": ""} {
		if settings[k] != want {
			t.Errorf("%s built with %s=%q; want %q", filepath.Base(exe), k, settings[k], want)
		}
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(version)) {
		t.Errorf("%s does not contain its version %q", filepath.Base(exe), version)
	}
	// The scripted prompter that answers dialogs from the environment
	// exists only in test builds (-tags cardbridgetest); a released program
	// holding it would let anything that sets its environment skip consent.
	if tags := settings["-tags"]; tags != "" {
		t.Errorf("%s built with -tags %q; a release takes none", filepath.Base(exe), tags)
	}
	for _, marker := range []string{"CARDBRIDGE_TEST_CONSENT", "CARDBRIDGE_TEST_PIN"} {
		if bytes.Contains(data, []byte(marker)) {
			t.Errorf("%s contains the test prompter (%s)", filepath.Base(exe), marker)
		}
	}
}
