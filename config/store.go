package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"
)

// ViaConsentPrompt marks origins added by the user answering "always" in
// the native consent dialog.
const ViaConsentPrompt = "consent-prompt"

// StoreOptions tune a Store.
type StoreOptions struct {
	// AllowHTTP accepts plain http:// origins. Only for the daemon's
	// developer mode; a normal install never stores one.
	AllowHTTP bool
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Store is a concurrency-safe view of one config file. It implements the
// bridge's ConsentStore (Allowed, Allow, Revoke, List).
//
// Every mutation re-reads the file under an exclusive cross-process lock,
// applies the change and writes the file back atomically, so that two
// processes (the daemon and a command-line invocation) never lose each
// other's changes. Reads use an in-memory copy that is refreshed when the
// file's size or modification time changes.
type Store struct {
	path string
	opts StoreOptions

	mu      sync.Mutex
	cfg     Config
	stamp   fileStamp
	lastErr error // last load problem, for the caller to log
}

type fileStamp struct {
	exists  bool
	size    int64
	modTime time.Time
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, size: fi.Size(), modTime: fi.ModTime()}
}

// Open returns a Store over the file at path (see DefaultPath).
//
// Open returns a usable *Store whenever path is non-empty. If the file was
// corrupt or held invalid values, the error wraps ErrCorrupt or ErrInvalid:
// the caller should log it and carry on with the returned Store, which then
// holds defaults (or the valid remainder) and never allows more than the
// file did.
func Open(path string, opts StoreOptions) (*Store, error) {
	if path == "" {
		return nil, errors.New("config: empty path")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{path: path, opts: opts}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.reloadLocked()
	return s, err
}

// Path returns the file the Store reads and writes.
func (s *Store) Path() string { return s.path }

// reloadLocked re-reads the file. Corrupt or unreadable files leave the
// store with the defaults; s.mu must be held.
func (s *Store) reloadLocked() error {
	st := stampOf(s.path)
	c, err := load(s.path, s.opts.AllowHTTP)
	var ie *InvalidError
	if err != nil && !errors.As(err, &ie) {
		c = Config{}
	}
	s.cfg = c
	s.stamp = stampOf(s.path) // after Load: a corrupt file has moved away
	if !st.exists {
		s.stamp = fileStamp{}
	}
	s.lastErr = err
	return err
}

// refreshLocked reloads if another process changed the file.
func (s *Store) refreshLocked() {
	if stampOf(s.path) != s.stamp {
		s.reloadLocked()
	}
}

// Config returns a snapshot of the current settings.
func (s *Store) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return s.cfg.clone()
}

// Allowed reports whether origin was permanently allowed. Strings that do
// not normalise to an origin are never allowed.
func (s *Store) Allowed(origin string) bool {
	n, err := NormalizeOrigin(origin, s.opts.AllowHTTP)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return slices.ContainsFunc(s.cfg.Origins, func(o AllowedOrigin) bool { return o.Origin == n })
}

// List returns the allowed origins in the order they were added.
func (s *Store) List() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	out := make([]string, len(s.cfg.Origins))
	for i, o := range s.cfg.Origins {
		out[i] = o.Origin
	}
	return out
}

// Origins returns the allowed origins with their provenance.
func (s *Store) Origins() []AllowedOrigin {
	return s.Config().Origins
}

// Allow stores origin as permanently allowed. Allowing an origin twice
// keeps the first record.
func (s *Store) Allow(origin string) error {
	n, err := NormalizeOrigin(origin, s.opts.AllowHTTP)
	if err != nil {
		return err
	}
	return s.Update(func(c *Config) error {
		if slices.ContainsFunc(c.Origins, func(o AllowedOrigin) bool { return o.Origin == n }) {
			return nil
		}
		c.Origins = append(c.Origins, AllowedOrigin{Origin: n, Added: s.opts.Now().UTC().Truncate(time.Second), Via: ViaConsentPrompt})
		return nil
	})
}

// Revoke removes origin from the allowed list. Revoking an origin that is
// not there is not an error.
func (s *Store) Revoke(origin string) error {
	// Accept http here regardless of mode so that a user can always
	// remove an entry they see.
	n, err := NormalizeOrigin(origin, true)
	if err != nil {
		return err
	}
	return s.Update(func(c *Config) error {
		c.Origins = slices.DeleteFunc(c.Origins, func(o AllowedOrigin) bool { return o.Origin == n })
		return nil
	})
}

// Block records site (a Site value, "https://evil.example") as blocked
// by the user.
func (s *Store) Block(site string) error {
	n, err := NormalizeOrigin(site, true)
	if err != nil {
		return err
	}
	if Site(n) != n {
		return fmt.Errorf("%w: %q is an origin inside a site, not a site", ErrBadOrigin, site)
	}
	return s.Update(func(c *Config) error {
		if !slices.Contains(c.Blocked, n) {
			c.Blocked = append(c.Blocked, n)
		}
		return nil
	})
}

// Unblock lifts the block of site. Unblocking a site that is not blocked
// is not an error.
func (s *Store) Unblock(site string) error {
	return s.Update(func(c *Config) error {
		c.Blocked = slices.DeleteFunc(c.Blocked, func(b string) bool { return b == site })
		return nil
	})
}

// Blocked reports whether site is blocked.
func (s *Store) Blocked(site string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return slices.Contains(s.cfg.Blocked, site)
}

// BlockedSites returns the blocked sites in the order they were blocked.
func (s *Store) BlockedSites() []string {
	return s.Config().Blocked
}

// Update applies fn to the current config and saves the result, holding
// the cross-process lock throughout. If fn returns an error nothing is
// written. The config passed to fn is re-read from disk first.
func (s *Store) Update(fn func(*Config) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	// Re-read under the lock: another process may have written since
	// our last look. A corrupt file is moved aside here and we start
	// from defaults, which is the documented safe behaviour.
	s.reloadLocked()
	c := s.cfg.clone()
	if err := fn(&c); err != nil {
		return err
	}
	if c, err = c.sanitize(s.path, s.opts.AllowHTTP); err != nil {
		return fmt.Errorf("config: refusing to save: %w", err)
	}
	if err := Save(s.path, c); err != nil {
		return err
	}
	s.cfg = c
	s.stamp = stampOf(s.path)
	s.lastErr = nil
	return nil
}

// Err returns the problem met the last time the file was loaded, if any
// (see Open). It lets a long-running daemon log a file that went bad while
// it was running.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Remove deletes the config file, its lock file and the directory if it
// is then empty. It is for "uninstall --purge"; a missing file is not an
// error.
func Remove(path string) error {
	var errs []error
	for _, p := range []string{path, path + ".lock"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
