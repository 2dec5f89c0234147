// Package realcards finds, for tests, the files read from real Belgian eID
// cards and the Belgian root certificates that shared/real-cards holds
// (see its README). They are read where CI puts them, never copied into
// the repository.
package realcards

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir returns the real-cards folder: $CARDBRIDGE_REAL_CARDS, else
// ../shared/real-cards from the repository root (CI clones the repository
// next to shared/), else /work/shared/real-cards (a worktree elsewhere on
// the development machine). It skips the test, loudly, when none exists.
func Dir(t testing.TB) string {
	t.Helper()
	var tried []string
	if d := os.Getenv("CARDBRIDGE_REAL_CARDS"); d != "" {
		tried = append(tried, d)
	}
	if root, err := repoRoot(); err == nil {
		tried = append(tried, filepath.Join(root, "..", "shared", "real-cards"))
	}
	tried = append(tried, "/work/shared/real-cards")
	for _, d := range tried {
		if st, err := os.Stat(filepath.Join(d, "commons-eid")); err == nil && st.IsDir() {
			return d
		}
	}
	t.Skipf("SKIPPED: NO REAL CARD DATA. Looked in %s; set CARDBRIDGE_REAL_CARDS to the real-cards folder.", strings.Join(tried, ", "))
	return ""
}

// repoRoot walks up from the working directory to the go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
