package tray

import (
	"slices"
	"sync"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/prompt"
	"github.com/cardbridge/cardbridge/prompt/i18n"
)

// DefaultActivityLength is how many activities an ActivityLog keeps.
const DefaultActivityLength = 10

// ActivityLog keeps the latest things sites did with the card, for the
// tray's "Recent activity" menu: the time, the site and what it did.
// It is a bridge.ActivityRecorder (bridge.Config.Activity); it holds
// nothing read from the card and nothing of the PIN, and lives in memory
// only.
type ActivityLog struct {
	mu    sync.Mutex
	max   int
	items []bridge.Activity // oldest first
}

var _ bridge.ActivityRecorder = (*ActivityLog)(nil)

// NewActivityLog returns a log keeping the latest n activities (n <= 0:
// DefaultActivityLength).
func NewActivityLog(n int) *ActivityLog {
	if n <= 0 {
		n = DefaultActivityLength
	}
	return &ActivityLog{max: n}
}

// Record adds a, dropping the oldest beyond the log's length.
func (l *ActivityLog) Record(a bridge.Activity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, a)
	if len(l.items) > l.max {
		l.items = slices.Delete(l.items, 0, len(l.items)-l.max)
	}
}

// Recent returns the activities, newest first.
func (l *ActivityLog) Recent() []bridge.Activity {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.items)
	slices.Reverse(out)
	return out
}

// activityLabel is an activity's menu line, such as
// "14:02 https://registration.smart-id.com read your identity".
func activityLabel(lang i18n.Lang, a bridge.Activity) string {
	return lang.T("activity."+string(a.Action), a.Time.Local().Format("15:04"), prompt.DisplayOrigin(a.Origin))
}
