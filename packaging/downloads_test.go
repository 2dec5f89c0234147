package packaging

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDownloadNamesAgree ties the demo portal's download links
// (web/demo/platform.js) to the files the release builds: each name the
// portal links to is written into dist/ by scripts/release.sh or by the
// macOS workflow, and each of those downloads is linked.
func TestDownloadNamesAgree(t *testing.T) {
	js, err := os.ReadFile("../web/demo/platform.js")
	if err != nil {
		t.Skipf("no demo portal download list: %v", err)
	}
	if !strings.Contains(string(js), `"https://github.com/cardbridge/cardbridge/releases/latest/download/"`) {
		t.Error("platform.js does not link to the latest release's downloads")
	}
	linked := map[string]bool{}
	for _, m := range regexp.MustCompile(`file: "([^"]+)"`).FindAllStringSubmatch(string(js), -1) {
		linked[m[1]] = true
	}
	// What each publishes: release.sh's outputs in dist/, the workflow's
	// uploads to the release.
	built := map[string]string{}
	for _, m := range regexp.MustCompile(`dist/(cardbridge-[\w.-]+\.(?:msi|deb|rpm))\b`).FindAllStringSubmatch(string(committed(t, "../scripts/release.sh")), -1) {
		built[m[1]] = "release.sh"
	}
	for _, l := range strings.Split(string(committed(t, "../.github/workflows/release-macos.yml")), "\n") {
		if strings.Contains(l, "gh release upload") {
			for _, m := range regexp.MustCompile(`dist/(cardbridge-[\w-]+\.pkg)\b`).FindAllStringSubmatch(l, -1) {
				built[m[1]] = "release-macos.yml"
			}
		}
	}
	for name := range linked {
		if built[name] == "" {
			t.Errorf("the demo portal links to %s, which no release script builds", name)
		}
	}
	for name, script := range built {
		if !linked[name] {
			t.Errorf("%s builds %s, which the demo portal does not offer", script, name)
		}
	}
	if len(built) != 5 {
		t.Errorf("release downloads %v; want the five of the contract", built)
	}
}
