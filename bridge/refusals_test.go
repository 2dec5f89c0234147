package bridge

import (
	"fmt"
	"testing"
	"time"
)

// prune keeps a shared refusal store small: what expired goes, and a
// page that made the user refuse many origins cannot grow it past the
// bound.
func TestRefusalsPrune(t *testing.T) {
	l := Limits{}.withDefaults()
	now := time.Now()
	r := Refusals{
		DeniedUntil: map[string]time.Time{"https://old.example": now.Add(-time.Second), "https://new.example": now.Add(time.Second)},
		Denials:     []time.Time{now.Add(-l.DenyWindow - time.Second), now.Add(-time.Second), now.Add(time.Hour)},
		QuietUntil:  now.Add(-time.Second),
		Dialogs: map[string]DialogRefusals{
			"https://old.example": {Count: 5, Until: now.Add(-refusalMemory - time.Second)},
			"https://new.example": {Count: 1, Until: now.Add(-time.Minute)},
		},
	}
	for i := range 2 * maxRefusalEntries {
		r.Dialogs[fmt.Sprintf("https://a%d.evil.example", i)] = DialogRefusals{Count: 1, Until: now.Add(time.Duration(i) * time.Millisecond)}
	}
	r.prune(now, l)
	if _, ok := r.DeniedUntil["https://old.example"]; ok || len(r.DeniedUntil) != 1 {
		t.Errorf("DeniedUntil %v", r.DeniedUntil)
	}
	if len(r.Denials) != 1 || !r.QuietUntil.IsZero() {
		t.Errorf("Denials %v QuietUntil %v", r.Denials, r.QuietUntil)
	}
	if len(r.Dialogs) != maxRefusalEntries {
		t.Errorf("%d dialog entries, want %d", len(r.Dialogs), maxRefusalEntries)
	}
	if _, ok := r.Dialogs[fmt.Sprintf("https://a%d.evil.example", 2*maxRefusalEntries-1)]; !ok {
		t.Error("the latest refusal was dropped")
	}
}
