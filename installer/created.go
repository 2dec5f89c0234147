package installer

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// manifestName is the file, in the program's own config directory, that
// lists the directories Install created. Uninstall removes those (when
// empty) and no others: an empty ~/.local/bin or ~/.config/systemd/user
// that was there before the install is the user's and stays.
const manifestName = "installed-dirs"

func manifestPath(name string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("installer: %w", err)
	}
	return filepath.Join(dir, name, manifestName), nil
}

// missingDirs returns each of dirs, and each of their parents below the
// home directory, that does not exist yet: what an os.MkdirAll of dirs
// would create.
func missingDirs(dirs ...string) []string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return nil
	}
	home = filepath.Clean(home)
	var out []string
	for _, d := range dirs {
		for d = filepath.Clean(d); strings.HasPrefix(d, home+string(filepath.Separator)); d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil {
				break
			}
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// readManifest returns the directories recorded by earlier installs; none
// when there is no manifest. Only paths inside the home directory are
// taken, whatever the file says.
func readManifest(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return nil
	}
	prefix := filepath.Clean(home) + string(filepath.Separator)
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		d := filepath.Clean(strings.TrimSpace(sc.Text()))
		if filepath.IsAbs(d) && strings.HasPrefix(d, prefix) && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// recordCreated adds created to the manifest at path, keeping what earlier
// installs recorded (a reinstall creates nothing new, but the first
// install's directories are still Install's to remove).
func recordCreated(path string, created []string) error {
	dirs := readManifest(path)
	for _, d := range created {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("# Directories `cardbridge install` created; `cardbridge uninstall` removes them when empty.\n")
	for _, d := range dirs {
		b.WriteString(d + "\n")
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return permHint(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return permHint(err)
	}
	return nil
}

// removeCreated removes the recorded directories that are empty, deepest
// first so that a parent empties once its children are gone.
func removeCreated(dirs []string) {
	dirs = slices.Clone(dirs)
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		os.Remove(d) // fails when not empty: keep it
	}
}
