package installer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cardbridge/cardbridge/packaging"
)

// NativeHost is one browser's registration of cardbridge as the
// extension's native-messaging host: a manifest file, and on Windows the
// registry key whose default value names it.
type NativeHost struct {
	Browser  string // "chrome", "chromium", "edge" or "firefox"
	Family   packaging.Family
	Manifest string // the manifest file
	// RegistryKey is the key under HKEY_CURRENT_USER (Windows only).
	RegistryKey string
}

// NativeHostState is what Status found of one NativeHost.
type NativeHostState struct {
	NativeHost
	Installed bool
	// Problem says what is wrong with an installed manifest (another
	// program, a missing binary), or is empty.
	Problem string
}

// NativeHosts lists where the browsers look for the host of the current
// user (the per-user locations; packages install system-wide ones).
func NativeHosts() ([]NativeHost, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, fmt.Errorf("installer: %w", err)
	}
	cfgDir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("installer: %w", err)
	}
	return nativeHostsFor(runtime.GOOS, home, cfgDir), nil
}

const manifestFile = packaging.HostName + ".json"

// ManifestJSON is the content of a host manifest for browser ("chrome",
// "chromium", "edge" or "firefox") starting the host at path: the same
// bytes `cardbridge install` writes and the packages ship.
func ManifestJSON(browser, path string) ([]byte, error) {
	f, ok := browserFamily(browser)
	if !ok {
		return nil, fmt.Errorf("installer: unknown browser %q (want chrome, chromium, edge or firefox)", browser)
	}
	return packaging.Manifest(f, path).Marshal(), nil
}

func browserFamily(browser string) (packaging.Family, bool) {
	switch browser {
	case "chrome", "chromium", "edge":
		return packaging.Chromium, true
	case "firefox":
		return packaging.Firefox, true
	}
	return 0, false
}

// nativeHostDirs are the directories writeNativeHosts may create.
func nativeHostDirs() []string {
	hosts, err := NativeHosts()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, h := range hosts {
		dirs = append(dirs, filepath.Dir(h.Manifest))
	}
	return dirs
}

// writeNativeHosts writes every browser's manifest for exe, and registers
// it where the platform wants that (Windows).
func writeNativeHosts(exe string, res *Result) error {
	hosts, err := NativeHosts()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hosts {
		content := packaging.Manifest(h.Family, exe).Marshal()
		changed, err := writeFileIfChanged(h.Manifest, content)
		if err != nil {
			errs = append(errs, fmt.Errorf("installer: %s manifest: %w", h.Browser, permHint(err)))
			continue
		}
		rchanged, err := registerNativeHost(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("installer: %s registry: %w", h.Browser, permHint(err)))
			continue
		}
		res.Changed = res.Changed || changed || rchanged
		res.NativeHosts = append(res.NativeHosts, h.Browser+": "+h.Manifest)
	}
	return errors.Join(errs...)
}

// removeNativeHosts removes the manifests (and registry keys) that are
// cardbridge's: a file of that name that names another host is left.
func removeNativeHosts(res *Result, errs *[]error) {
	hosts, err := NativeHosts()
	if err != nil {
		*errs = append(*errs, err)
		return
	}
	for _, h := range hosts {
		if m, err := readHostManifest(h.Manifest); err == nil && m.Name == packaging.HostName {
			res.remove(h.Manifest, errs)
		}
		if changed, err := unregisterNativeHost(h); err != nil {
			*errs = append(*errs, permHint(err))
		} else if changed {
			res.Changed = true
			res.Removed = append(res.Removed, `HKCU\`+h.RegistryKey)
		}
	}
}

// nativeHostStates reports each browser's manifest.
func nativeHostStates() []NativeHostState {
	hosts, err := NativeHosts()
	if err != nil {
		return nil
	}
	out := make([]NativeHostState, 0, len(hosts))
	for _, h := range hosts {
		st := NativeHostState{NativeHost: h}
		m, err := readHostManifest(h.Manifest)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			st.Installed, st.Problem = true, err.Error()
		case m.Name != packaging.HostName:
			st.Installed, st.Problem = true, "names another host: "+m.Name
		default:
			st.Installed = true
			want := packaging.Manifest(h.Family, m.Path)
			if fmt.Sprint(m.AllowedOrigins, m.AllowedExtensions) != fmt.Sprint(want.AllowedOrigins, want.AllowedExtensions) {
				st.Problem = "allows other extensions than cardbridge's"
			} else if fi, err := os.Stat(m.Path); err != nil || fi.IsDir() {
				st.Problem = "its program is missing: " + m.Path
			} else if ok, err := nativeHostRegistered(h); err == nil && !ok {
				st.Problem = "not registered: HKCU\\" + h.RegistryKey
			}
		}
		out = append(out, st)
	}
	return out
}

func readHostManifest(path string) (packaging.HostManifest, error) {
	var m packaging.HostManifest
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s is not a host manifest: %w", path, err)
	}
	return m, nil
}

// writeFileIfChanged writes content to path (creating its directory)
// through a temporary file, unless it is already there.
func writeFileIfChanged(path string, content []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	_, werr := f.Write(content)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return false, werr
	}
	return true, nil
}

// nativeHostsString formats the states for Status.String.
func nativeHostsString(states []NativeHostState) string {
	var b strings.Builder
	for _, s := range states {
		switch {
		case !s.Installed:
			fmt.Fprintf(&b, "extension host %-8s not installed (%s)\n", s.Browser+":", s.Manifest)
		case s.Problem != "":
			fmt.Fprintf(&b, "extension host %-8s %s: %s\n", s.Browser+":", s.Manifest, s.Problem)
		default:
			fmt.Fprintf(&b, "extension host %-8s %s\n", s.Browser+":", s.Manifest)
		}
	}
	return b.String()
}
