//go:build !unix || darwin

package tray

// available: Windows and macOS always have a notification area.
func available() error { return nil }
