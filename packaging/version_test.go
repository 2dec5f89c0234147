package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionScript runs scripts/version.sh in a throw-away repository
// through the cases a release goes through: no tag yet, on a tag, commits
// after it, a modified tree, a tag too large for an MSI version.
func TestVersionScript(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git missing")
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeExec(filepath.Join(repo, "scripts", "version.sh"), string(committed(t, "../scripts/version.sh"))); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid",
			"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(msg string) {
		writeFile(t, filepath.Join(repo, "f"), msg)
		git("add", "-A")
		git("commit", "-q", "-m", msg)
	}
	version := func() (map[string]string, error) {
		cmd := exec.Command("scripts/version.sh")
		cmd.Dir = repo
		out, err := cmd.Output()
		v := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, val, ok := strings.Cut(l, "="); ok {
				v[k] = val
			}
		}
		return v, err
	}
	git("init", "-q")
	commit("one")
	commit("two")
	head := git("rev-parse", "--short=12", "HEAD")
	for _, c := range []struct {
		setup        func()
		version, msi string
	}{
		{func() {}, "0.1.0+git.2." + head, "0.1.0.2"},
		{func() { git("tag", "v1.2.3") }, "1.2.3", "1.2.3.0"},
		{func() { commit("three") }, "1.2.3+git.1.", "1.2.3.1"},
		{func() { writeFile(t, filepath.Join(repo, "f"), "changed") }, ".dirty", "1.2.3.1"},
	} {
		c.setup()
		v, err := version()
		if err != nil {
			t.Fatalf("version.sh: %v", err)
		}
		if !strings.Contains(v["VERSION"], c.version) || v["MSI_VERSION"] != c.msi || v["SOURCE_DATE_EPOCH"] != "1767323045" {
			t.Errorf("version.sh = %v; want VERSION containing %q, MSI_VERSION %s, SOURCE_DATE_EPOCH of the commit", v, c.version, c.msi)
		}
	}
	git("checkout", "-q", "--", "f")
	git("tag", "v256.0.0")
	if v, err := version(); err == nil {
		t.Errorf("v256.0.0 accepted (%v): an MSI major version is at most 255", v)
	}
}
