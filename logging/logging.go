// Package logging sets up cardbridge's structured log: JSON lines in a
// per-user file with size-bounded rotation, passed through a Redactor
// that keeps PINs and full national numbers out of it.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"gopkg.in/natefinch/lumberjack.v2"
)

// FileName is the log file's name inside its directory.
const FileName = "cardbridge.log"

// Options configure New.
type Options struct {
	// Path of the log file; empty means DefaultPath().
	Path string
	// Level is the minimum level written; nil means slog.LevelInfo.
	Level slog.Leveler
	// MaxSizeMB rotates the file when it grows past this size; 0 means 5.
	MaxSizeMB int
	// MaxBackups is how many rotated files are kept; 0 means 3.
	MaxBackups int
	// Also, when non-nil, receives the (redacted) records at AlsoLevel
	// and above, as text, e.g. os.Stderr.
	Also io.Writer
	// AlsoLevel is the minimum level written to Also; nil means Level.
	AlsoLevel slog.Leveler
}

// DefaultPath returns where the log lives:
//   - Linux and other Unix: $XDG_STATE_HOME/cardbridge/cardbridge.log,
//     i.e. ~/.local/state/cardbridge/cardbridge.log by default (the XDG
//     base directory spec puts logs in the state directory);
//   - macOS: ~/Library/Logs/cardbridge/cardbridge.log, where Console.app
//     looks;
//   - Windows: %LocalAppData%\cardbridge\cardbridge.log (os.UserCacheDir).
func DefaultPath() (string, error) {
	switch runtime.GOOS {
	case "windows":
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("logging: %w", err)
		}
		return filepath.Join(dir, "cardbridge", FileName), nil
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("logging: %w", err)
		}
		return filepath.Join(home, "Library", "Logs", "cardbridge", FileName), nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "cardbridge", FileName), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("logging: %w", err)
	}
	return filepath.Join(home, ".local", "state", "cardbridge", FileName), nil
}

// New returns a logger writing redacted JSON records to the log file, and
// the file's closer. The directory is created private to the user.
func New(opts Options) (*slog.Logger, io.Closer, error) {
	path := opts.Path
	if path == "" {
		var err error
		if path, err = DefaultPath(); err != nil {
			return nil, nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("logging: creating log directory: %w", err)
	}
	lj := &lumberjack.Logger{
		Filename:   path,
		MaxSize:    orDefault(opts.MaxSizeMB, 5),
		MaxBackups: orDefault(opts.MaxBackups, 3),
		LocalTime:  false,
	}
	// Open now so that an unwritable path is reported at start-up rather
	// than silently losing every record later.
	if _, err := lj.Write(nil); err != nil {
		return nil, nil, fmt.Errorf("logging: opening %s: %w", path, err)
	}
	// lumberjack keeps the mode of a file that is already there; the log
	// names portals and card holders' birth dates, so it is made private
	// whatever an older version or another tool left.
	if err := os.Chmod(path, 0o600); err != nil {
		lj.Close()
		return nil, nil, fmt.Errorf("logging: %w", err)
	}
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	var h slog.Handler = slog.NewJSONHandler(lj, &slog.HandlerOptions{Level: level})
	if opts.Also != nil {
		also := opts.AlsoLevel
		if also == nil {
			also = level
		}
		h = slog.NewMultiHandler(h, slog.NewTextHandler(opts.Also, &slog.HandlerOptions{Level: also}))
	}
	return slog.New(NewRedactor(h)), lj, nil
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// ParseLevel maps "debug", "info", "warn", "error" to a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("logging: unknown level " + s + " (want debug, info, warn or error)")
	}
	return l, nil
}
