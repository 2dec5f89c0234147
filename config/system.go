package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// System is the administrator's machine-wide config (SystemPath), which
// users cannot override. It is read, never written, by cardbridge.
type System struct {
	// WebSocket false turns the localhost WebSocket off for every user,
	// for deployments where pages use the browser extension only.
	WebSocket *bool `json:"websocket,omitempty"`
	// AllowedOrigins are https origins every user's cardbridge lets use
	// the card without the consent dialog (the PIN and signature dialogs
	// still appear), on both channels; LoadSystem normalises them.
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
	// OnlyAllowedOrigins refuses, without a dialog, every origin that is
	// neither in AllowedOrigins nor allowed "always" by the user.
	OnlyAllowedOrigins bool `json:"onlyAllowedOrigins,omitempty"`
}

// SystemPath is where an administrator puts the machine-wide config:
// /etc/cardbridge/config.json on Linux and other Unix systems,
// /Library/Application Support/cardbridge/config.json on macOS,
// %ProgramData%\cardbridge\config.json on Windows.
func SystemPath() string {
	switch runtime.GOOS {
	case "windows":
		dir := os.Getenv("ProgramData")
		if dir == "" {
			dir = `C:\ProgramData`
		}
		return filepath.Join(dir, "cardbridge", FileName)
	case "darwin":
		return filepath.Join("/Library", "Application Support", "cardbridge", FileName)
	}
	return filepath.Join("/etc", "cardbridge", FileName)
}

// LoadSystem reads the machine-wide config at path. A missing file is the
// zero System. A file that cannot be read or parsed is an error, which
// the daemon reports and refuses to start on: guessing at what the
// administrator wanted could turn on what they turned off.
func LoadSystem(path string) (System, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return System{}, nil
	}
	if err != nil {
		return System{}, fmt.Errorf("config: reading %s: %w", path, err)
	}
	var s System
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return System{}, fmt.Errorf("config: %s: %w", path, err)
	}
	if dec.More() {
		return System{}, fmt.Errorf("config: %s: trailing data after JSON object", path)
	}
	for i, o := range s.AllowedOrigins {
		n, err := NormalizeOrigin(o, false)
		if err != nil {
			return System{}, fmt.Errorf("config: %s: allowedOrigins: %w", path, err)
		}
		s.AllowedOrigins[i] = n
	}
	return s, nil
}

// WebSocketEnabled reports whether the daemon serves the localhost
// WebSocket, and when not, who turned it off ("administrator" or
// "user"). The administrator's "false" wins over anything the user
// says; the user may turn it off, not on.
func WebSocketEnabled(sys System, user Config) (bool, string) {
	if sys.WebSocket != nil && !*sys.WebSocket {
		return false, "administrator"
	}
	if user.WebSocket != nil && !*user.WebSocket {
		return false, "user"
	}
	return true, ""
}
