package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DefaultPort is the daemon's TCP port when the config does not set one.
const DefaultPort = 27183

// DefaultPromptTimeout is how long a native dialog waits for the user
// before it counts as cancelled.
const DefaultPromptTimeout = 60 * time.Second

// FileName is the name of the config file inside its directory.
const FileName = "config.json"

// Languages the user interface is translated into; Config.Language must be
// one of them or empty (empty means "follow the operating system").
var languages = map[string]bool{"en": true, "nl": true, "fr": true, "de": true}

// Sentinel errors. Typed errors below wrap them so that callers can use
// errors.Is.
var (
	// ErrCorrupt reports a config file that could not be parsed. It was
	// moved aside and defaults are in use.
	ErrCorrupt = errors.New("config: corrupt config file")
	// ErrInvalid reports a value in an otherwise readable file that was
	// out of range and replaced by its default.
	ErrInvalid = errors.New("config: invalid value")
	// ErrBadOrigin reports a string that is not an acceptable web origin.
	ErrBadOrigin = errors.New("config: not an acceptable origin")
)

// Config is the content of the per-user config file.
type Config struct {
	// Origins the user allowed permanently ("always for this origin").
	Origins []AllowedOrigin `json:"origins"`
	// Language overrides the OS locale for dialogs and the tray:
	// "en", "nl", "fr", "de" or "" for the OS choice.
	Language string `json:"language,omitempty"`
	// Port is the daemon's localhost port; 0 means DefaultPort.
	Port int `json:"port,omitempty"`
	// PromptTimeoutSeconds bounds every native dialog; 0 means
	// DefaultPromptTimeout.
	PromptTimeoutSeconds int `json:"promptTimeoutSeconds,omitempty"`
	// Blocked are the sites (Site: scheme and registrable domain) the
	// user blocked with "block this site": refused without a dialog.
	Blocked []string `json:"blocked,omitempty"`
	// WebSocket false turns the localhost WebSocket off: pages reach the
	// card through the browser extension only. Absent means on.
	WebSocket *bool `json:"websocket,omitempty"`
}

// AllowedOrigin is one permanently allowed origin with its provenance, so
// that the user (or support) can tell when and how it got there.
type AllowedOrigin struct {
	Origin string    `json:"origin"` // normalised, see NormalizeOrigin
	Added  time.Time `json:"added"`
	Via    string    `json:"via"` // e.g. "consent-prompt"
}

// EffectivePort returns c.Port or DefaultPort.
func (c Config) EffectivePort() int {
	if c.Port == 0 {
		return DefaultPort
	}
	return c.Port
}

// PromptTimeout returns the configured dialog timeout or DefaultPromptTimeout.
func (c Config) PromptTimeout() time.Duration {
	if c.PromptTimeoutSeconds <= 0 {
		return DefaultPromptTimeout
	}
	return time.Duration(c.PromptTimeoutSeconds) * time.Second
}

// clone returns a deep copy so that snapshots handed out never alias the
// store's own slice.
func (c Config) clone() Config {
	c.Origins = append([]AllowedOrigin(nil), c.Origins...)
	c.Blocked = append([]string(nil), c.Blocked...)
	return c
}

// DefaultPath returns os.UserConfigDir()/cardbridge/config.json.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config: locating user config dir: %w", err)
	}
	return filepath.Join(dir, "cardbridge", FileName), nil
}

// CorruptError is returned by Load when the file was unreadable as a
// config. The original was renamed to MovedTo (empty if moving failed).
type CorruptError struct {
	Path    string
	MovedTo string
	Err     error // the parse error
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("config: %s is corrupt (%v); using defaults", e.Path, e.Err)
	}
	return fmt.Sprintf("config: %s is corrupt (%v); kept as %s, using defaults", e.Path, e.Err, e.MovedTo)
}

func (e *CorruptError) Unwrap() error        { return e.Err }
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// InvalidError lists values that Load replaced by defaults or dropped.
type InvalidError struct {
	Path     string
	Problems []string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("config: %s: ignored invalid values: %q", e.Path, e.Problems)
}

func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Load reads the config at path.
//
// A missing file yields the zero Config (all defaults) and no error. A file
// that is not valid JSON for a Config is renamed to path+".corrupt-<UTC
// time>" and Load returns the zero Config with a *CorruptError. Individual
// invalid values are dropped, and reported in an *InvalidError alongside the
// cleaned Config. In every error case the returned Config is safe to use:
// it never allows more than the valid part of the file did. Load never
// accepts http:// origins; only a Store in developer mode keeps those.
func Load(path string) (Config, error) { return load(path, false) }

// load is Load with the developer-mode choice of accepting http origins.
func load(path string, allowHTTP bool) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return parse(path, data, allowHTTP)
}

func parse(path string, data []byte, allowHTTP bool) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&c)
	if err == nil && dec.More() {
		err = errors.New("trailing data after JSON object")
	}
	if err != nil {
		ce := &CorruptError{Path: path, Err: err}
		aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
		// Keep the damaged file for the user or support instead of
		// overwriting it at the next save.
		if rerr := os.Rename(path, aside); rerr == nil {
			ce.MovedTo = aside
		}
		return Config{}, ce
	}
	return c.sanitize(path, allowHTTP)
}

// sanitize drops what is out of range. Origins that do not normalise are
// dropped rather than guessed at: a wrong guess would grant access.
func (c Config) sanitize(path string, allowHTTP bool) (Config, error) {
	var problems []string
	var kept []AllowedOrigin
	seen := map[string]bool{}
	for _, o := range c.Origins {
		n, err := NormalizeOrigin(o.Origin, allowHTTP)
		if err != nil {
			problems = append(problems, fmt.Sprintf("origin %q: %v", o.Origin, err))
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		o.Origin = n
		kept = append(kept, o)
	}
	c.Origins = kept
	var blocked []string
	for _, b := range c.Blocked {
		n, err := NormalizeOrigin(b, true)
		if err != nil || Site(n) != n {
			problems = append(problems, fmt.Sprintf("blocked site %q is not a site", b))
			continue
		}
		if !slices.Contains(blocked, n) {
			blocked = append(blocked, n)
		}
	}
	c.Blocked = blocked
	if c.Language != "" && !languages[c.Language] {
		problems = append(problems, fmt.Sprintf("language %q unsupported", c.Language))
		c.Language = ""
	}
	if c.Port < 0 || c.Port > 65535 {
		problems = append(problems, fmt.Sprintf("port %d out of range", c.Port))
		c.Port = 0
	}
	if c.PromptTimeoutSeconds < 0 || c.PromptTimeoutSeconds > 3600 {
		problems = append(problems, fmt.Sprintf("promptTimeoutSeconds %d out of range", c.PromptTimeoutSeconds))
		c.PromptTimeoutSeconds = 0
	}
	if len(problems) > 0 {
		return c, &InvalidError{Path: path, Problems: problems}
	}
	return c, nil
}

// Save writes c to path atomically: a reader sees either the old or the new
// file, never a mixture, even if the process dies half-way. The directory
// is created (0700) if needed and the file is private to the user (0600).
func Save(path string, c Config) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("config: encoding: %w", err)
	}
	data = append(data, '\n')
	return writeFileAtomic(path, data, 0o600)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: creating %s: %w", dir, err)
	}
	// The temporary file must be in the same directory: rename is only
	// atomic within one file system.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("config: creating temporary file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil && !isChmodUnsupported(err) {
		return fmt.Errorf("config: chmod %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("config: writing %s: %w", tmp, err)
	}
	// fsync before rename: otherwise a crash can leave the new name
	// pointing at an empty file on some file systems.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("config: syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("config: closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("config: replacing %s: %w", path, err)
	}
	ok = true
	syncDir(dir) // best effort: makes the rename itself durable
	return nil
}
