// Package packaging holds what the release packages are made of besides
// the binary: the native-messaging host manifests for every package and
// system, and the tests that open the built packages (MSI, .deb, .rpm,
// macOS files) and check what they install.
//
// The manifests under manifests/ are generated from the shared contract
// values below by `go run ./packaging/pkgtool manifests`; a test fails
// when the committed files differ from what the generator writes.
package packaging

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cardbridge/cardbridge/bridge/nativemsg"
)

// The native-messaging contract shared by the daemon, the browser
// extension and the packages. The host that enforces it (package
// nativemsg) defines it; the packages' manifests take it from there.
const (
	// HostName is the name the extension passes to connectNative, and the
	// manifest's file name without ".json" on Linux and macOS, where the
	// browsers find a host by file name.
	HostName = nativemsg.HostName
	// HostDescription is the manifest's description.
	HostDescription = nativemsg.HostDescription
	// ChromeExtensionID is the extension's id in Chrome, Chromium and
	// Edge (derived from the public key in the extension's manifest).
	ChromeExtensionID = nativemsg.ChromeExtensionID
	// FirefoxExtensionID is the extension's id in Firefox
	// (browser_specific_settings.gecko.id).
	FirefoxExtensionID = nativemsg.FirefoxExtensionID
)

// Family is a family of browsers sharing one manifest format.
type Family int

const (
	// Chromium covers Google Chrome, Chromium and Microsoft Edge: the
	// manifest lists allowed_origins
	// (https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host).
	Chromium Family = iota
	// Firefox lists allowed_extensions
	// (https://developer.mozilla.org/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#native_messaging_manifests).
	Firefox
)

func (f Family) String() string {
	switch f {
	case Chromium:
		return "chromium"
	case Firefox:
		return "firefox"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// HostManifest is a native-messaging host manifest. Exactly one of
// AllowedOrigins (Chromium) and AllowedExtensions (Firefox) is set:
// each browser family rejects the other's key or ignores it, so each
// gets its own file.
type HostManifest struct {
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Path              string   `json:"path"`
	Type              string   `json:"type"`
	AllowedOrigins    []string `json:"allowed_origins,omitempty"`
	AllowedExtensions []string `json:"allowed_extensions,omitempty"`
}

// Manifest returns the manifest for a browser family that starts the
// host at path. On Linux and macOS path must be absolute; on Windows
// both families also accept a path relative to the manifest's directory.
func Manifest(f Family, path string) HostManifest {
	m := HostManifest{Name: HostName, Description: HostDescription, Path: path, Type: "stdio"}
	if f == Firefox {
		m.AllowedExtensions = []string{FirefoxExtensionID}
	} else {
		m.AllowedOrigins = []string{nativemsg.ChromeOrigin}
	}
	return m
}

// Marshal encodes m as the packages ship it: indented, with a final new
// line, and without HTML escaping (a path may contain '&').
func (m HostManifest) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		panic(err) // strings and string slices always encode
	}
	return b.Bytes()
}

// MacOSHomePlaceholder stands for the user's home directory in the macOS
// package's files. The package installs into the home folder of the user
// who runs it (productbuild's enable_currentUserHome domain), which is
// known only at install time, and the browsers and launchd need absolute
// paths; the package's postinstall script replaces it.
const MacOSHomePlaceholder = "@HOME@"

// MacOSBinary is where the macOS package puts the program: the same
// place `cardbridge install` copies it to (installer.UserBinPath).
const MacOSBinary = MacOSHomePlaceholder + "/Library/Application Support/cardbridge/cardbridge"

// File is one generated manifest file, relative to the packaging
// directory.
type File struct {
	Path     string
	Family   Family
	Binary   string
	Platform string // linux, windows, macos
}

// Files lists every manifest file the packages ship.
//
// Linux packages install the binary at /usr/bin/cardbridge and these two
// files into the browsers' system-wide directories (nfpm.yaml). The MSI
// installs the Windows pair beside cardbridge.exe; Windows finds them
// through registry keys, not by file name, and both families resolve a
// relative path against the manifest's directory there. The macOS pair
// carries the home placeholder.
var Files = []File{
	{"manifests/linux/chromium/" + HostName + ".json", Chromium, "/usr/bin/cardbridge", "linux"},
	{"manifests/linux/firefox/" + HostName + ".json", Firefox, "/usr/bin/cardbridge", "linux"},
	{"manifests/windows/" + HostName + ".json", Chromium, "cardbridge.exe", "windows"},
	{"manifests/windows/" + HostName + ".firefox.json", Firefox, "cardbridge.exe", "windows"},
	{"manifests/macos/chromium/" + HostName + ".json", Chromium, MacOSBinary, "macos"},
	{"manifests/macos/firefox/" + HostName + ".json", Firefox, MacOSBinary, "macos"},
}

// Content is the file's generated content.
func (f File) Content() []byte { return Manifest(f.Family, f.Binary).Marshal() }
