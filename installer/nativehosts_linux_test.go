//go:build linux

package installer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/packaging"
)

// TestNativeHostsInstall: install writes the four browsers' per-user
// manifests for the registered binary, status reports them, uninstall
// removes them and the directories it made, and leaves a browser
// directory that was there before.
func TestNativeHostsInstall(t *testing.T) {
	home, exe := throwAwayHome(t)
	if managerRunning(context.Background()) {
		t.Skip("a systemd user manager answers even with a throw-away HOME; this test wants the offline path")
	}
	// Firefox was used before cardbridge came: its directory stays.
	if err := os.MkdirAll(filepath.Join(home, ".mozilla", "firefox"), 0o700); err != nil {
		t.Fatal(err)
	}
	before := tree(t, home)
	ctx := context.Background()
	cfg := Config{Executable: exe, NativeMessaging: true, Port: healthServer(t),
		SmartCardCheck: func(context.Context) error { return nil }}
	res, err := Install(ctx, cfg)
	if err != nil {
		t.Fatalf("Install: %v\n%s", err, res)
	}
	want := map[string]string{
		".config/google-chrome/NativeMessagingHosts/org.cardbridge.host.json":  "chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk/",
		".config/chromium/NativeMessagingHosts/org.cardbridge.host.json":       "chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk/",
		".config/microsoft-edge/NativeMessagingHosts/org.cardbridge.host.json": "chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk/",
		".mozilla/native-messaging-hosts/org.cardbridge.host.json":             "cardbridge@cardbridge.org",
	}
	for rel, allowed := range want {
		b, err := os.ReadFile(filepath.Join(home, rel))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		list := m["allowed_origins"]
		if strings.HasPrefix(rel, ".mozilla") {
			list = m["allowed_extensions"]
		}
		if m["name"] != "org.cardbridge.host" || m["type"] != "stdio" || m["path"] != exe ||
			m["description"] != "cardbridge: Belgian eID for web pages" || !slices.Equal(toStrings(list), []string{allowed}) {
			t.Errorf("%s:\n%s", rel, b)
		}
	}
	if len(res.NativeHosts) != 4 || !strings.Contains(res.String(), "browser host: firefox: ") {
		t.Errorf("result:\n%s", res)
	}

	st, err := CheckStatus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.NativeHosts) != 4 {
		t.Fatalf("status lists %d browsers:\n%s", len(st.NativeHosts), st)
	}
	for _, h := range st.NativeHosts {
		if !h.Installed || h.Problem != "" {
			t.Errorf("status of %s: %+v", h.Browser, h)
		}
	}
	// A binary that moved away is reported.
	os.Rename(exe, exe+".moved")
	st, _ = CheckStatus(ctx, cfg)
	if !strings.Contains(st.String(), "its program is missing") {
		t.Errorf("status with the binary gone:\n%s", st)
	}
	os.Rename(exe+".moved", exe)

	if _, err := Uninstall(ctx, cfg, false); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if got := tree(t, home); !slices.Equal(got, before) {
		t.Fatalf("uninstall left:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
	st, _ = CheckStatus(ctx, cfg)
	if strings.Count(st.String(), "not installed (") != 4 {
		t.Errorf("status after uninstall:\n%s", st)
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestNativeHostPaths(t *testing.T) {
	mac := nativeHostsFor("darwin", "/Users/u", "/Users/u/Library/Application Support")
	win := nativeHostsFor("windows", `C:\Users\u`, `C:\Users\u\AppData\Roaming`)
	var got []string
	for _, h := range append(mac, win...) {
		got = append(got, h.Browser+" "+h.Manifest+" "+h.RegistryKey)
	}
	for _, want := range []string{
		"chrome /Users/u/Library/Application Support/Google/Chrome/NativeMessagingHosts/org.cardbridge.host.json ",
		"chromium /Users/u/Library/Application Support/Chromium/NativeMessagingHosts/org.cardbridge.host.json ",
		"edge /Users/u/Library/Application Support/Microsoft Edge/NativeMessagingHosts/org.cardbridge.host.json ",
		"firefox /Users/u/Library/Application Support/Mozilla/NativeMessagingHosts/org.cardbridge.host.json ",
		`Software\Google\Chrome\NativeMessagingHosts\org.cardbridge.host`,
		`Software\Microsoft\Edge\NativeMessagingHosts\org.cardbridge.host`,
		`Software\Mozilla\NativeMessagingHosts\org.cardbridge.host`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, want) }) {
			t.Errorf("no host at %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func TestManifestJSON(t *testing.T) {
	b, err := ManifestJSON("edge", "/usr/bin/cardbridge")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("../packaging/manifests/linux/chromium/" + packaging.HostName + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(shipped) {
		t.Errorf("ManifestJSON differs from the .deb's manifest:\n%s\nwant:\n%s", b, shipped)
	}
	if _, err := ManifestJSON("safari", "/x"); err == nil {
		t.Error("ManifestJSON accepted safari")
	}
}
