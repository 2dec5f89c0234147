package packaging

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The macOS package cannot be built here (pkgbuild, productbuild and the
// cgo build need a Mac); these tests keep its files honest with what runs
// on Linux.

// parsePlist decodes an XML property list (Apple's PropertyList-1.0 DTD)
// into Go values: dict → map[string]any, array → []any, string → string,
// true/false → bool, integer → int64, real → float64, date/data → string.
// It is strict where plutil -lint is: one root object inside
// <plist version="1.0">, keys only in dicts and each followed by a value,
// no duplicate keys, no text outside strings.
func parsePlist(data []byte) (any, error) {
	if !bytes.HasPrefix(data, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		return nil, errors.New("no XML declaration with UTF-8")
	}
	if !bytes.Contains(data, []byte(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`)) {
		return nil, errors.New("no plist DOCTYPE")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	next := func() (xml.Token, error) {
		for {
			tok, err := d.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.CharData:
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, fmt.Errorf("text %q outside a value", t)
				}
			case xml.Comment, xml.ProcInst, xml.Directive:
			default:
				return tok, nil
			}
		}
	}
	var value func(start xml.StartElement) (any, error)
	text := func(name string) (string, error) {
		var s string
		if err := d.DecodeElement(&s, &xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
			return "", err
		}
		return s, nil
	}
	value = func(start xml.StartElement) (any, error) {
		switch start.Name.Local {
		case "string", "date", "data", "key":
			return text(start.Name.Local)
		case "integer":
			s, err := text("integer")
			if err != nil {
				return nil, err
			}
			return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		case "real":
			s, err := text("real")
			if err != nil {
				return nil, err
			}
			return strconv.ParseFloat(strings.TrimSpace(s), 64)
		case "true", "false":
			if err := d.Skip(); err != nil {
				return nil, err
			}
			return start.Name.Local == "true", nil
		case "array":
			var a []any
			for {
				tok, err := next()
				if err != nil {
					return nil, err
				}
				if _, ok := tok.(xml.EndElement); ok {
					return a, nil
				}
				v, err := value(tok.(xml.StartElement))
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
		case "dict":
			m := map[string]any{}
			for {
				tok, err := next()
				if err != nil {
					return nil, err
				}
				if _, ok := tok.(xml.EndElement); ok {
					return m, nil
				}
				k, ok := tok.(xml.StartElement)
				if !ok || k.Name.Local != "key" {
					return nil, fmt.Errorf("dict holds %v where a key belongs", tok)
				}
				key, err := text("key")
				if err != nil {
					return nil, err
				}
				if _, dup := m[key]; dup {
					return nil, fmt.Errorf("duplicate key %q", key)
				}
				tok, err = next()
				if err != nil {
					return nil, err
				}
				v, ok := tok.(xml.StartElement)
				if !ok || v.Name.Local == "key" {
					return nil, fmt.Errorf("key %q has no value", key)
				}
				if m[key], err = value(v); err != nil {
					return nil, fmt.Errorf("%s: %w", key, err)
				}
			}
		}
		return nil, fmt.Errorf("unknown plist element <%s>", start.Name.Local)
	}
	tok, err := next()
	if err != nil {
		return nil, err
	}
	root, ok := tok.(xml.StartElement)
	if !ok || root.Name.Local != "plist" || len(root.Attr) != 1 || root.Attr[0].Name.Local != "version" || root.Attr[0].Value != "1.0" {
		return nil, fmt.Errorf("root element %v; want <plist version=\"1.0\">", tok)
	}
	tok, err = next()
	if err != nil {
		return nil, err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return nil, errors.New("empty plist")
	}
	v, err := value(start)
	if err != nil {
		return nil, err
	}
	if tok, err = next(); err != nil {
		return nil, err
	} else if _, ok := tok.(xml.EndElement); !ok {
		return nil, errors.New("more than one root object")
	}
	if _, err := next(); err != io.EOF {
		return nil, errors.New("content after </plist>")
	}
	return v, nil
}

// launchdKeys are the launchd.plist(5) keys the agent may use.
var launchdKeys = map[string]bool{
	"Label": true, "ProgramArguments": true, "RunAtLoad": true, "KeepAlive": true,
	"LimitLoadToSessionType": true, "ProcessType": true, "StandardOutPath": true, "StandardErrorPath": true,
	"EnvironmentVariables": true, "WorkingDirectory": true, "ThrottleInterval": true,
}

// checkLaunchAgent checks an agent plist as launchd reads it, with the
// program expected at binary.
func checkLaunchAgent(t *testing.T, data []byte, binary string) {
	t.Helper()
	v, err := parsePlist(data)
	if err != nil {
		t.Fatalf("LaunchAgent is not a well-formed plist: %v", err)
	}
	agent, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("LaunchAgent root is %T; want a dict", v)
	}
	for k := range agent {
		if !launchdKeys[k] {
			t.Errorf("unknown LaunchAgent key %q", k)
		}
	}
	// The label and file name `cardbridge install` uses on macOS
	// (installer: kardianos/service with Name "cardbridge"), so either
	// replaces or removes the other's agent.
	if agent["Label"] != "cardbridge" {
		t.Errorf("Label = %v; want cardbridge", agent["Label"])
	}
	args, _ := agent["ProgramArguments"].([]any)
	if len(args) != 2 || args[0] != binary || args[1] != "run" {
		t.Errorf("ProgramArguments = %v; want [%s run]", agent["ProgramArguments"], binary)
	}
	if agent["RunAtLoad"] != true {
		t.Errorf("RunAtLoad = %v; want true (start at login)", agent["RunAtLoad"])
	}
	// Restart after a crash, not after Quit from the tray (exit 0).
	if ka, ok := agent["KeepAlive"].(map[string]any); !ok || len(ka) != 1 || ka["SuccessfulExit"] != false {
		t.Errorf("KeepAlive = %v; want {SuccessfulExit: false}", agent["KeepAlive"])
	}
	if agent["LimitLoadToSessionType"] != "Aqua" {
		t.Errorf("LimitLoadToSessionType = %v; want Aqua (the GUI session: dialogs and tray)", agent["LimitLoadToSessionType"])
	}
}

func TestLaunchAgentPlist(t *testing.T) {
	checkLaunchAgent(t, committed(t, "macos/cardbridge.plist"), MacOSBinary)
}

func TestParsePlistRejects(t *testing.T) {
	head := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n"
	for name, doc := range map[string]string{
		"unclosed":       head + `<plist version="1.0"><dict><key>Label</key><string>x</string></plist>`,
		"key no value":   head + `<plist version="1.0"><dict><key>Label</key></dict></plist>`,
		"duplicate key":  head + `<plist version="1.0"><dict><key>A</key><true/><key>A</key><false/></dict></plist>`,
		"stray text":     head + `<plist version="1.0"><dict>oops<key>A</key><true/></dict></plist>`,
		"two roots":      head + `<plist version="1.0"><dict/><dict/></plist>`,
		"wrong version":  head + `<plist version="2.0"><dict/></plist>`,
		"no doctype":     `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<plist version="1.0"><dict/></plist>`,
		"bad integer":    head + `<plist version="1.0"><dict><key>A</key><integer>x</integer></dict></plist>`,
		"unknown":        head + `<plist version="1.0"><dict><key>A</key><bool/></dict></plist>`,
		"value in dict":  head + `<plist version="1.0"><dict><string>A</string></dict></plist>`,
		"ampersand text": head + `<plist version="1.0"><dict><key>A</key><string>a & b</string></dict></plist>`,
	} {
		if _, err := parsePlist([]byte(doc)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	v, err := parsePlist([]byte(head + `<plist version="1.0"><dict><key>A</key><array><integer>7</integer><string>s</string></array></dict></plist>`))
	if err != nil || fmt.Sprint(v) != "map[A:[7 s]]" {
		t.Errorf("valid plist: %v, %v", v, err)
	}
}

// macHome lays out the package's payload in a throw-away home folder with
// stage.sh, as pkgbuild would install it.
func macHome(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("install"); err != nil {
		t.Skip("install(1) missing")
	}
	home := filepath.Join(t.TempDir(), "Jan Peeters") // a space, as in many real home folders
	bin := filepath.Join(t.TempDir(), "cardbridge")
	writeFile(t, bin, "#!/bin/sh\n")
	run(t, nil, "macos/stage.sh", home, bin)
	return home
}

func run(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	// No launchctl or pkgutil on Linux: the scripts skip them.
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

var macManifests = []struct {
	path   string
	family Family
}{
	{"Library/Application Support/Google/Chrome/NativeMessagingHosts/org.cardbridge.host.json", Chromium},
	{"Library/Application Support/Chromium/NativeMessagingHosts/org.cardbridge.host.json", Chromium},
	{"Library/Application Support/Microsoft Edge/NativeMessagingHosts/org.cardbridge.host.json", Chromium},
	{"Library/Application Support/Mozilla/NativeMessagingHosts/org.cardbridge.host.json", Firefox},
}

// TestMacOSInstallScripts runs the package's postinstall on the staged
// payload: afterwards the agent and every manifest point at the program
// by its absolute path, as launchd and the browsers require. Then
// uninstall.sh must leave no file behind.
func TestMacOSInstallScripts(t *testing.T) {
	home := macHome(t)
	run(t, []string{"HOME=" + home}, "macos/scripts/postinstall", "/tmp/cardbridge.pkg", home, "/")
	binary := filepath.Join(home, "Library/Application Support/cardbridge/cardbridge")
	checkLaunchAgent(t, readFile(t, filepath.Join(home, "Library/LaunchAgents/cardbridge.plist")), binary)
	for _, m := range macManifests {
		var got HostManifest
		if err := json.Unmarshal(readFile(t, filepath.Join(home, m.path)), &got); err != nil {
			t.Fatalf("%s: %v", m.path, err)
		}
		if want := Manifest(m.family, binary); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %+v; want %+v", m.path, got, want)
		}
	}
	if fi, err := os.Stat(binary); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("program: %v %v; want mode 0755", fi, err)
	}
	// The settings the program wrote meanwhile survive a plain uninstall.
	settings := filepath.Join(home, "Library/Application Support/cardbridge/config.json")
	writeFile(t, settings, "{}")
	run(t, []string{"HOME=" + home}, filepath.Join(home, "Library/Application Support/cardbridge/uninstall.sh"))
	if got := filesUnder(t, home); len(got) != 1 || got[0] != "Library/Application Support/cardbridge/config.json" {
		t.Errorf("after uninstall.sh the home holds %v; want only the settings", got)
	}
	run(t, []string{"HOME=" + home}, "macos/uninstall.sh", "--purge")
	if got := filesUnder(t, home); len(got) != 0 {
		t.Errorf("after uninstall.sh --purge the home holds %v", got)
	}
	for _, d := range []string{"Google", "Chromium", "Microsoft Edge", "Mozilla", "cardbridge"} {
		if _, err := os.Stat(filepath.Join(home, "Library/Application Support", d)); err == nil {
			t.Errorf("uninstall left the empty directory %s", d)
		}
	}
}

// TestMacOSPostinstallRefusesOddHome: a home path that would need
// escaping in XML or JSON is refused rather than written into the files.
func TestMacOSPostinstallRefusesOddHome(t *testing.T) {
	home := macHome(t)
	odd := filepath.Join(filepath.Dir(home), `a"b`)
	if err := os.Rename(home, odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("macos/scripts/postinstall", "/tmp/cardbridge.pkg", odd, "/")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + odd}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("postinstall accepted the home %q: %s", odd, out)
	}
}

func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestMacOSDistribution: the package installs into the current user's
// home only, for both chips.
func TestMacOSDistribution(t *testing.T) {
	var dist struct {
		Domains struct {
			Anywhere    string `xml:"enable_anywhere,attr"`
			UserHome    string `xml:"enable_currentUserHome,attr"`
			LocalSystem string `xml:"enable_localSystem,attr"`
		} `xml:"domains"`
		Options struct {
			Arch string `xml:"hostArchitectures,attr"`
		} `xml:"options"`
		OS struct {
			Version struct {
				Min string `xml:"min,attr"`
			} `xml:"os-version"`
		} `xml:"allowed-os-versions"`
		PkgRefs []struct {
			ID   string `xml:"id,attr"`
			File string `xml:",chardata"`
		} `xml:"pkg-ref"`
	}
	if err := xml.Unmarshal(committed(t, "macos/distribution.xml"), &dist); err != nil {
		t.Fatal(err)
	}
	if d := dist.Domains; d.UserHome != "true" || d.Anywhere != "false" || d.LocalSystem != "false" {
		t.Errorf("domains = %+v; want the current user's home only (no administrator)", d)
	}
	// The oldest macOS the binary is built for (the workflow's
	// MACOSX_DEPLOYMENT_TARGET).
	wf := string(committed(t, "../.github/workflows/release-macos.yml"))
	if min := dist.OS.Version.Min; min == "" || !strings.Contains(wf, `MACOSX_DEPLOYMENT_TARGET: "`+min+`"`) {
		t.Errorf("allowed macOS from %q; want the workflow's MACOSX_DEPLOYMENT_TARGET", min)
	}
	if dist.Options.Arch != "arm64,x86_64" {
		t.Errorf("hostArchitectures = %q", dist.Options.Arch)
	}
	var component bool
	for _, r := range dist.PkgRefs {
		component = component || (r.ID == "org.cardbridge.pkg" && r.File == "cardbridge-component.pkg")
	}
	build := string(committed(t, "macos/build-pkg.sh"))
	if !component || !strings.Contains(build, "--identifier org.cardbridge.pkg") || !strings.Contains(build, `"$work/cardbridge-component.pkg"`) {
		t.Error("distribution.xml and build-pkg.sh do not name the same component package")
	}
}

// TestMacOSReleaseWorkflow parses the GitHub Actions workflow and checks
// that it builds both architectures with cgo, joins them with lipo,
// builds the package with the repository's script, signs and notarizes
// only with secrets, and publishes the two contract file names.
func TestMacOSReleaseWorkflow(t *testing.T) {
	var wf struct {
		Name        string            `yaml:"name"`
		On          map[string]any    `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			RunsOn string            `yaml:"runs-on"`
			Env    map[string]string `yaml:"env"`
			Steps  []struct {
				Name string            `yaml:"name"`
				Uses string            `yaml:"uses"`
				With map[string]any    `yaml:"with"`
				If   string            `yaml:"if"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	data, err := os.ReadFile("../.github/workflows/release-macos.yml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("release-macos.yml: %v", err)
	}
	if _, ok := wf.On["push"]; !ok {
		t.Error("the workflow does not run on pushed tags")
	}
	job, ok := wf.Jobs["pkg"]
	if !ok || !strings.HasPrefix(job.RunsOn, "macos-") {
		t.Fatalf("no pkg job on a macOS runner: %+v", wf.Jobs)
	}
	if job.Env["CGO_ENABLED"] != "1" {
		t.Error("cgo is not enabled (PCSC.framework and the tray need it)")
	}
	var all strings.Builder
	for _, s := range job.Steps {
		// scripts/version.sh needs the history and the tags.
		if strings.HasPrefix(s.Uses, "actions/checkout@") && fmt.Sprint(s.With["fetch-depth"]) != "0" {
			t.Errorf("checkout with fetch-depth %v; want 0 (all history and tags)", s.With["fetch-depth"])
		}
		all.WriteString(s.Run + "\n")
		signing := regexp.MustCompile(`\b(codesign|productsign|notarytool|stapler|security import)\b`).MatchString(s.Run)
		if signing && s.If != "env.SIGNING == 'true'" {
			t.Errorf("step %q signs without checking that the signing secrets exist", s.Name)
		}
		for _, v := range s.Env {
			if strings.Contains(v, "secrets.") && !strings.Contains(s.If, "SIGNING") {
				t.Errorf("step %q reads secrets but runs unsigned builds too", s.Name)
			}
		}
	}
	if !strings.Contains(job.Env["SIGNING"], "secrets.MACOS_CERTIFICATES_P12") {
		t.Errorf("SIGNING = %q; want it to depend on the certificate secret", job.Env["SIGNING"])
	}
	steps := all.String()
	for _, want := range []string{
		"scripts/version.sh", "GOARCH=arm64", "GOARCH=amd64", "-trimpath", "-X main.version=$VERSION",
		"lipo -create", "lipo -verify_arch bin/darwin-universal/cardbridge arm64 x86_64",
		"packaging/macos/build-pkg.sh bin/darwin-universal/cardbridge",
		"codesign --force --options runtime --timestamp", "productsign", "xcrun notarytool submit", "xcrun stapler staple",
		"dist/cardbridge-macos-arm64.pkg", "dist/cardbridge-macos-x64.pkg", "shasum -a 256", "plutil -lint packaging/macos/cardbridge.plist",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("no step runs %q", want)
		}
	}
	// Every repository file a step names exists.
	for _, p := range regexp.MustCompile(`\b(?:scripts|packaging)/[\w./-]+`).FindAllString(steps, -1) {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("the workflow runs %s, which does not exist", p)
		}
	}
}
