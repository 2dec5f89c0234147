package installer

import (
	"path/filepath"

	"github.com/cardbridge/cardbridge/packaging"
)

// nativeHostsFor lists the per-user host locations for goos, given the
// home and user config directories; NativeHosts calls it for the running
// system, and tests for every system.
//
// Linux: Chromium browsers look in <user data dir>/NativeMessagingHosts,
// the user data dir being under $XDG_CONFIG_HOME (default ~/.config);
// Firefox in ~/.mozilla/native-messaging-hosts. macOS: under
// ~/Library/Application Support. Windows: the browsers read the manifest
// path from HKCU keys; the files sit in cardbridge's own directory.
// (developer.chrome.com native messaging "Native messaging host location";
// MDN "Native manifests", "Manifest location".)
func nativeHostsFor(goos, home, cfgDir string) []NativeHost {
	chromium, firefox := packaging.Chromium, packaging.Firefox
	switch goos {
	case "linux":
		return []NativeHost{
			{Browser: "chrome", Family: chromium, Manifest: filepath.Join(cfgDir, "google-chrome", "NativeMessagingHosts", manifestFile)},
			{Browser: "chromium", Family: chromium, Manifest: filepath.Join(cfgDir, "chromium", "NativeMessagingHosts", manifestFile)},
			{Browser: "edge", Family: chromium, Manifest: filepath.Join(cfgDir, "microsoft-edge", "NativeMessagingHosts", manifestFile)},
			{Browser: "firefox", Family: firefox, Manifest: filepath.Join(home, ".mozilla", "native-messaging-hosts", manifestFile)},
		}
	case "darwin":
		as := filepath.Join(home, "Library", "Application Support")
		return []NativeHost{
			{Browser: "chrome", Family: chromium, Manifest: filepath.Join(as, "Google", "Chrome", "NativeMessagingHosts", manifestFile)},
			{Browser: "chromium", Family: chromium, Manifest: filepath.Join(as, "Chromium", "NativeMessagingHosts", manifestFile)},
			{Browser: "edge", Family: chromium, Manifest: filepath.Join(as, "Microsoft Edge", "NativeMessagingHosts", manifestFile)},
			{Browser: "firefox", Family: firefox, Manifest: filepath.Join(as, "Mozilla", "NativeMessagingHosts", manifestFile)},
		}
	case "windows":
		// cfgDir is %AppData%; the Firefox manifest needs a file of its
		// own, as its keys differ.
		dir := filepath.Join(cfgDir, "cardbridge", "NativeMessagingHosts")
		const sub = `\NativeMessagingHosts\` + packaging.HostName
		return []NativeHost{
			{Browser: "chrome", Family: chromium, Manifest: filepath.Join(dir, manifestFile), RegistryKey: `Software\Google\Chrome` + sub},
			{Browser: "edge", Family: chromium, Manifest: filepath.Join(dir, manifestFile), RegistryKey: `Software\Microsoft\Edge` + sub},
			{Browser: "firefox", Family: firefox, Manifest: filepath.Join(dir, packaging.HostName+".firefox.json"), RegistryKey: `Software\Mozilla` + sub},
		}
	}
	return nil
}
