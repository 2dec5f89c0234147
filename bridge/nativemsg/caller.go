package nativemsg

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// The project's native-messaging contract (docs/protocol.md, "Transport").
const (
	// HostName is the native-messaging host's name, and its manifest's
	// file name without ".json".
	HostName = "org.cardbridge.host"
	// HostDescription is the manifest's description.
	HostDescription = "cardbridge: Belgian eID for web pages"
	// ChromeExtensionID is the extension's id in Chromium browsers, fixed
	// by the public key in its manifest.
	ChromeExtensionID = "eabimfdgphmkgijljjnoadmjicgbnnkk"
	// FirefoxExtensionID is the extension's id in Firefox
	// (browser_specific_settings.gecko.id).
	FirefoxExtensionID = "cardbridge@cardbridge.org"
	// ChromeOrigin is how Chromium browsers name the extension to the host
	// (the manifest's allowed_origins entry and the host's argument).
	ChromeOrigin = "chrome-extension://" + ChromeExtensionID + "/"
)

// Browser families, as they start a host.
const (
	Chromium = "chromium" // Chrome, Chromium, Edge
	Firefox  = "firefox"
)

// Caller is who started the host, from its command line.
type Caller struct {
	Browser   string // Chromium or Firefox
	Extension string // ChromeOrigin or FirefoxExtensionID
	// ParentWindow is Chromium's --parent-window on Windows (the handle
	// of the window that started the host), else "".
	ParentWindow string
}

// ErrNotOurExtension: the host was started for another extension.
var ErrNotOurExtension = errors.New("nativemsg: this host serves only the cardbridge extension")

// LooksLikeHostArgs reports whether args (without the program name) have
// one of the forms browsers start a native-messaging host with:
// "chrome-extension://ID/ [--parent-window=N]" from Chromium browsers,
// "<manifest path> <extension id>" from Firefox. The cardbridge
// subcommands never look like either.
func LooksLikeHostArgs(args []string) bool {
	if len(args) >= 1 && strings.HasPrefix(args[0], "chrome-extension://") {
		return true
	}
	return len(args) == 2 && strings.EqualFold(filepath.Ext(args[0]), ".json")
}

// ParseCaller checks the command line a browser started the host with
// (args without the program name) and returns the caller. Only the
// cardbridge extension is accepted: the browsers already enforce the
// manifest's allowed_origins / allowed_extensions, and this checks again.
func ParseCaller(args []string) (Caller, error) {
	switch {
	case len(args) >= 1 && strings.HasPrefix(args[0], "chrome-extension://"):
		c := Caller{Browser: Chromium, Extension: args[0]}
		for _, a := range args[1:] {
			v, ok := strings.CutPrefix(a, "--parent-window=")
			if !ok {
				return Caller{}, fmt.Errorf("nativemsg: unexpected argument %q", trim(a))
			}
			c.ParentWindow = v
		}
		if args[0] != ChromeOrigin {
			return Caller{}, fmt.Errorf("%w (started for %q)", ErrNotOurExtension, trim(args[0]))
		}
		return c, nil
	case len(args) == 2 && strings.EqualFold(filepath.Ext(args[0]), ".json"):
		if args[1] != FirefoxExtensionID {
			return Caller{}, fmt.Errorf("%w (started for %q)", ErrNotOurExtension, trim(args[1]))
		}
		return Caller{Browser: Firefox, Extension: args[1]}, nil
	}
	return Caller{}, errors.New("nativemsg: not a browser's native-messaging command line")
}

func trim(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
