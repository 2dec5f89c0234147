package tray

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/bridge"
)

// Monitor derives the tray State from the daemon's readers. It wraps the
// bridge.Readers the server uses: List and Watch pass through, and Open
// counts card sessions so that the icon shows StateBusy while the daemon
// talks to a card. Run watches readers and cards on its own, so the icon
// is right even when no page is connected.
//
//	mon := tray.NewMonitor(pcscreaders.New(), logger)
//	go mon.Run(ctx)
//	srv, _ := bridge.New(bridge.Config{Readers: mon, ...})
//	tray.Run(ctx, tray.Options{States: mon.States(), ...})
type Monitor struct {
	r     bridge.Readers
	log   *slog.Logger
	retry time.Duration // pause after a failed watch

	mu        sync.Mutex
	base      State // from readers and cards
	busy      int   // open card sessions
	published State
	out       chan State
}

var _ bridge.Readers = (*Monitor)(nil)

// NewMonitor wraps r. logger may be nil.
func NewMonitor(r bridge.Readers, logger *slog.Logger) *Monitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{r: r, log: logger, retry: 2 * time.Second, published: -1, out: make(chan State, 1)}
}

// States delivers the current State whenever it changes. Only the latest
// value is kept: a slow reader never blocks the monitor.
func (m *Monitor) States() <-chan State { return m.out }

// StateOf maps a reader list, or the error that prevented getting one, to
// a State.
func StateOf(readers []bridge.ReaderInfo, err error) State {
	switch {
	case errors.Is(err, bridge.ErrNoService):
		return StateNoService
	case err != nil:
		return StateStarting // unknown trouble: claim nothing
	case len(readers) == 0:
		return StateNoReader
	}
	for _, r := range readers {
		if r.CardPresent && beid.RecognizeATR(r.ATR) != beid.GenerationUnknown {
			return StateCardPresent
		}
	}
	return StateNoCard
}

// Run watches the readers until ctx is done. While the smart card service
// is down it retries every few seconds.
func (m *Monitor) Run(ctx context.Context) {
	var known []bridge.ReaderInfo
	first := true
	for ctx.Err() == nil {
		var list []bridge.ReaderInfo
		var err error
		if first {
			list, err = m.r.List(ctx)
		} else {
			list, err = m.r.Watch(ctx, known)
		}
		if ctx.Err() != nil {
			return
		}
		m.setBase(StateOf(list, err))
		if err != nil {
			if !errors.Is(err, bridge.ErrNoService) {
				m.log.Warn("tray: watching readers", "err", err)
			}
			first = true
			select {
			case <-ctx.Done():
			case <-time.After(m.retry):
			}
			continue
		}
		known, first = list, false
	}
}

func (m *Monitor) setBase(s State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.base = s
	m.publishLocked()
}

// publishLocked sends the current state if it changed, replacing an
// unread older one.
func (m *Monitor) publishLocked() {
	s := m.base
	if m.busy > 0 {
		s = StateBusy
	}
	if s == m.published {
		return
	}
	m.published = s
	select {
	case <-m.out:
	default:
	}
	m.out <- s
}

// List implements bridge.Readers.
func (m *Monitor) List(ctx context.Context) ([]bridge.ReaderInfo, error) { return m.r.List(ctx) }

// Watch implements bridge.Readers.
func (m *Monitor) Watch(ctx context.Context, known []bridge.ReaderInfo) ([]bridge.ReaderInfo, error) {
	return m.r.Watch(ctx, known)
}

// Open implements bridge.Readers; the state is StateBusy until the
// session is closed.
func (m *Monitor) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	s, err := m.r.Open(ctx, reader)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.busy++
	m.publishLocked()
	m.mu.Unlock()
	return &busySession{CardSession: s, m: m}, nil
}

type busySession struct {
	bridge.CardSession
	m    *Monitor
	once sync.Once
}

func (s *busySession) Close() error {
	err := s.CardSession.Close()
	s.once.Do(func() {
		s.m.mu.Lock()
		s.m.busy--
		s.m.publishLocked()
		s.m.mu.Unlock()
	})
	return err
}
