package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
)

// maxRefusalFile bounds what a refusal file may hold; the core prunes
// it to far less (a few hundred sites and times).
const maxRefusalFile = 1 << 20

// refusalFile is a bridge.RefusalStore that all the user's cardbridge
// processes share: a JSON file in the user's private run-time directory,
// replaced whole (write and rename) under a per-user lock, so that the
// daemon and the hosts serving in their own process see one another's
// refusals.
//
// A file that cannot be read (garbled, too large) or written is logged
// and this process goes on with what it last read or wrote: the
// cooldowns then hold within the process, as without a shared file. It
// does not fail closed (a pause of every dialog): the directory is the
// user's own, only their programs can damage the file, and a damaged
// file must not silence every site's consent dialog for good. Blocked
// sites are not in it: they live in the consent store. A damaged file is
// replaced at the next refusal.
type refusalFile struct {
	path string
	lock func(ctx context.Context) (unlock func(), err error)
	log  *slog.Logger

	mu   sync.Mutex
	last bridge.Refusals // what this process last read or wrote
}

var _ bridge.RefusalStore = (*refusalFile)(nil)

// Load returns the refusals in the file, or what this process last knew
// when the file cannot be read.
func (s *refusalFile) Load() bridge.Refusals {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.last.Clone()
}

// Update applies f to the refusals in the file under the lock, and
// writes them back.
func (s *refusalFile) Update(f func(*bridge.Refusals)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	unlock, err := s.lock(ctx)
	cancel()
	if err != nil {
		s.log.Warn("refusals not shared with other cardbridge processes: no lock", "err", err)
		f(&s.last)
		return
	}
	defer unlock()
	s.readLocked()
	f(&s.last)
	if err := writeRefusals(s.path, s.last); err != nil {
		s.log.Warn("refusals not shared with other cardbridge processes: cannot write them", "err", err)
	}
}

// readLocked replaces s.last with the file's refusals when it can read
// them. A missing file keeps s.last: nothing was refused yet, or the
// file was removed, which must not undo this process's refusals.
func (s *refusalFile) readLocked() {
	r, err := readRefusals(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.log.Warn("the shared refusal state is unusable; going on with this process's own", "path", s.path, "err", err)
	default:
		s.last = r
	}
}

func readRefusals(path string) (bridge.Refusals, error) {
	var r bridge.Refusals
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRefusalFile+1))
	if err != nil {
		return r, err
	}
	if len(b) > maxRefusalFile {
		return r, fmt.Errorf("%s: over %d bytes", path, maxRefusalFile)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return bridge.Refusals{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// writeRefusals replaces the file whole, so that a reader without the
// lock never sees half of it.
func writeRefusals(path string, r bridge.Refusals) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".refusals-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
