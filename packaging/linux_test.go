package packaging

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	debName = "cardbridge-linux-amd64.deb"
	rpmName = "cardbridge-linux-x86_64.rpm"
)

// linuxFile is a file both Linux packages install, with where its
// content comes from in this repository ("" for the binary).
type linuxFile struct {
	path, mode, src string
	config          bool // a configuration file (dpkg conffile, rpm %config)
	rpmOnly         bool
}

var linuxFiles = []linuxFile{
	{path: "/usr/bin/cardbridge", mode: "-rwxr-xr-x"},
	{path: "/usr/lib/systemd/user/cardbridge.service", mode: "-rw-r--r--", src: "cardbridge.service"},
	{path: "/etc/opt/chrome/native-messaging-hosts/" + HostName + ".json", mode: "-rw-r--r--", src: "manifests/linux/chromium/" + HostName + ".json", config: true},
	{path: "/etc/chromium/native-messaging-hosts/" + HostName + ".json", mode: "-rw-r--r--", src: "manifests/linux/chromium/" + HostName + ".json", config: true},
	{path: "/etc/opt/edge/native-messaging-hosts/" + HostName + ".json", mode: "-rw-r--r--", src: "manifests/linux/chromium/" + HostName + ".json", config: true},
	{path: "/usr/lib/mozilla/native-messaging-hosts/" + HostName + ".json", mode: "-rw-r--r--", src: "manifests/linux/firefox/" + HostName + ".json"},
	{path: "/usr/lib64/mozilla/native-messaging-hosts/" + HostName + ".json", mode: "-rw-r--r--", src: "manifests/linux/firefox/" + HostName + ".json", rpmOnly: true},
	// The administrator's policy examples, as documentation only.
	{path: "/usr/share/doc/cardbridge/policies/chromium/cardbridge.json", mode: "-rw-r--r--", src: "policies/linux/cardbridge.json"},
	{path: "/usr/share/doc/cardbridge/policies/firefox/policies.json", mode: "-rw-r--r--", src: "policies/firefox/policies.json"},
	{path: "/usr/share/doc/cardbridge/admin.md", mode: "-rw-r--r--", src: "../docs/admin.md"},
}

// activePolicyDirs are where the browsers read managed policies: the
// packages must not put the examples (with their placeholder portal)
// there.
var activePolicyDirs = []string{"/etc/opt/chrome/policies/", "/etc/chromium/policies/", "/etc/opt/edge/policies/", "/etc/firefox/policies/", "/usr/lib/firefox"}

func activePolicy(path string) bool {
	for _, d := range activePolicyDirs {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	return false
}

func TestDebContents(t *testing.T) {
	deb := artefact(t, debName)
	// `dpkg-deb -c` lines: mode owner size date time ./path
	listed := map[string]string{}
	for _, l := range strings.Split(output(t, "dpkg-deb", "-c", deb), "\n") {
		if f := strings.Fields(l); len(f) >= 6 {
			listed[strings.TrimPrefix(f[len(f)-1], ".")] = f[0]
		}
	}
	for p := range listed {
		if activePolicy(p) {
			t.Errorf("the .deb installs %s, an active browser policy", p)
		}
	}
	conffiles := output(t, "dpkg-deb", "-I", deb, "conffiles")
	content := debFiles(t, deb)
	for _, f := range linuxFiles {
		mode, ok := listed[f.path]
		switch {
		case f.rpmOnly && ok:
			t.Errorf("%s is for Fedora's 64-bit layout; the .deb should not ship it", f.path)
		case f.rpmOnly:
		case !ok:
			t.Errorf("%s not in the .deb", f.path)
		case mode != f.mode:
			t.Errorf("%s mode %s; want %s", f.path, mode, f.mode)
		case f.src != "" && !bytes.Equal(content[f.path], committed(t, f.src)):
			t.Errorf("%s in the .deb differs from packaging/%s", f.path, f.src)
		case f.config != strings.Contains(conffiles, f.path+"\n"):
			t.Errorf("%s: conffile %v; want %v", f.path, !f.config, f.config)
		}
	}
	bin := filepath.Join(t.TempDir(), "cardbridge")
	writeFile(t, bin, string(content["/usr/bin/cardbridge"]))
	version := strings.TrimSpace(output(t, "dpkg-deb", "-f", deb, "Version"))
	checkBuild(t, bin, "linux", "1", strings.TrimSuffix(version, "-1"))
	depends := output(t, "dpkg-deb", "-f", deb, "Depends")
	for _, d := range []string{"pcscd", "libpcsclite1", "zenity"} {
		if !strings.Contains(depends, d) {
			t.Errorf("Depends %q lacks %s", strings.TrimSpace(depends), d)
		}
	}
	if got := strings.TrimSpace(output(t, "dpkg-deb", "-f", deb, "Package")); got != "cardbridge" {
		t.Errorf("Package = %q", got)
	}
}

// debFiles reads the regular files of a .deb's data archive.
func debFiles(t *testing.T, deb string) map[string][]byte {
	t.Helper()
	data := output(t, "dpkg-deb", "--fsys-tarfile", deb)
	files := map[string][]byte{}
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("%s data: %v", deb, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, ".")] = b
		}
	}
}

func TestRPMContents(t *testing.T) {
	rpm := artefact(t, rpmName)
	listed := map[string]bool{}
	for _, p := range strings.Fields(output(t, "rpm", "-qlp", rpm)) {
		listed[p] = true
	}
	// Mode, %config flag and SHA-256 digest of every file (nfpm writes
	// SHA-256 digests, FILEDIGESTALGO 8).
	if algo := strings.TrimSpace(output(t, "rpm", "-qp", "--queryformat", "%{FILEDIGESTALGO}", rpm)); algo != "8" {
		t.Fatalf("file digest algorithm %s; the test compares SHA-256 (8)", algo)
	}
	type meta struct{ mode, flags, digest string }
	files := map[string]meta{}
	for _, l := range strings.Split(output(t, "rpm", "-qp", "--queryformat", `[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEFLAGS:fflags}\t%{FILEDIGESTS}\n]`, rpm), "\n") {
		if f := strings.Split(l, "\t"); len(f) == 4 {
			files[f[0]] = meta{f[1], f[2], f[3]}
		}
	}
	for p := range listed {
		if activePolicy(p) {
			t.Errorf("the .rpm installs %s, an active browser policy", p)
		}
	}
	for _, f := range linuxFiles {
		m := files[f.path]
		switch {
		case !listed[f.path]:
			t.Errorf("%s not in the .rpm (rpm -qlp)", f.path)
		case m.mode != f.mode:
			t.Errorf("%s mode %s; want %s", f.path, m.mode, f.mode)
		case f.config != strings.Contains(m.flags, "c"):
			t.Errorf("%s: file flags %q, config %v wanted", f.path, m.flags, f.config)
		case f.src != "":
			sum := sha256.Sum256(committed(t, f.src))
			if m.digest != hex.EncodeToString(sum[:]) {
				t.Errorf("%s in the .rpm differs from packaging/%s", f.path, f.src)
			}
		}
	}
	requires := strings.Fields(output(t, "rpm", "-qp", "--requires", rpm))
	for _, want := range []string{"pcsc-lite", "pcsc-lite-libs", "zenity"} {
		if !contains(requires, want) {
			t.Errorf("rpm requires %v; lacks %s", requires, want)
		}
	}
	if arch := output(t, "rpm", "-qp", "--queryformat", "%{ARCH}", rpm); arch != "x86_64" {
		t.Errorf("rpm arch %q; want x86_64", arch)
	}
	// Nothing of the build machine: a fixed build host.
	if host := output(t, "rpm", "-qp", "--queryformat", "%{BUILDHOST}", rpm); host != "cardbridge-release" {
		t.Errorf("rpm build host %q; want cardbridge-release", host)
	}
	// The scriptlets enable the user unit for all users on install and
	// disable it only on the final erase (rpm passes 0), not on upgrade.
	scripts := output(t, "rpm", "-qp", "--scripts", rpm)
	if !strings.Contains(scripts, "--global enable cardbridge.service") || !strings.Contains(scripts, "--global disable cardbridge.service") {
		t.Errorf("rpm scriptlets do not enable/disable the user unit:\n%s", scripts)
	}
}

// TestScriptletsArguments runs the maintainer scripts with each
// argument dpkg and rpm pass, against a fake systemctl, and checks when
// they enable and disable the unit.
func TestScriptletsArguments(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin := t.TempDir()
	log := bin + "/log"
	fake := "#!/bin/sh\necho \"$@\" >>" + log + "\n"
	if err := writeExec(bin+"/systemctl", fake); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		script, arg, want string
	}{
		{"scripts/postinstall.sh", "configure", "enable"}, // dpkg
		{"scripts/postinstall.sh", "1", "enable"},         // rpm install
		{"scripts/postinstall.sh", "2", "enable"},         // rpm upgrade
		{"scripts/postinstall.sh", "abort-upgrade", ""},
		{"scripts/preremove.sh", "remove", "disable"}, // dpkg
		{"scripts/preremove.sh", "upgrade", ""},       // dpkg upgrade: keep it
		{"scripts/preremove.sh", "0", "disable"},      // rpm erase
		{"scripts/preremove.sh", "1", ""},             // rpm upgrade: keep it
	}
	for _, c := range cases {
		writeFile(t, log, "")
		cmd := exec.Command("sh", c.script, c.arg)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "DPKG_ROOT=/nonexistent-root"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", c.script, c.arg, err, out)
			continue
		}
		got := strings.TrimSpace(string(readFile(t, log)))
		want := ""
		if c.want != "" {
			want = "--root=/nonexistent-root --global " + c.want + " cardbridge.service"
		}
		if got != want {
			t.Errorf("%s %s ran systemctl %q; want %q", c.script, c.arg, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
