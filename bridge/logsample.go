package bridge

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// logSampler bounds the log lines a page can cause: refusals are what a
// hostile page makes as many of as it likes, and one line each would let
// it rotate the log away. Up to refusalLogBurst lines pass at once and
// refusalLogRate a second after that; the next line that passes says how
// many were left out.
type logSampler struct {
	log     *slog.Logger
	limiter *rate.Limiter
	mu      sync.Mutex
	dropped int
}

const (
	refusalLogRate  = 1 // lines a second
	refusalLogBurst = 10
)

func newLogSampler(log *slog.Logger) *logSampler {
	return &logSampler{log: log, limiter: rate.NewLimiter(rate.Every(time.Second/refusalLogRate), refusalLogBurst)}
}

// Warn logs msg at warn level, unless too many lines came lately.
func (l *logSampler) Warn(msg string, args ...any) {
	l.mu.Lock()
	if !l.limiter.Allow() {
		l.dropped++
		l.mu.Unlock()
		return
	}
	if l.dropped > 0 {
		args = append(args, "alsoRefusedUnlogged", l.dropped)
		l.dropped = 0
	}
	l.mu.Unlock()
	l.log.Warn(msg, args...)
}
