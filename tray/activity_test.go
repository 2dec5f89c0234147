package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/prompt/i18n"
)

// TestActivityLog is issue 10 item 10's list: the latest activities,
// newest first, told per language with the time and the site.
func TestActivityLog(t *testing.T) {
	l := NewActivityLog(3)
	at := time.Date(2026, 12, 5, 14, 2, 0, 0, time.Local)
	for i, a := range []bridge.Action{bridge.ActionIdentity, bridge.ActionAddress, bridge.ActionLogin, bridge.ActionSign} {
		l.Record(bridge.Activity{Time: at.Add(time.Duration(i) * time.Minute), Origin: "https://registration.smart-id.com", Action: a})
	}
	got := l.Recent()
	if len(got) != 3 || got[0].Action != bridge.ActionSign || got[2].Action != bridge.ActionAddress {
		t.Fatalf("recent %+v", got)
	}
	for lang, want := range map[i18n.Lang]string{
		i18n.EN: "14:05 https://registration.smart-id.com signed a document",
		i18n.NL: "14:05 https://registration.smart-id.com ondertekende een document",
		i18n.FR: "14:05 https://registration.smart-id.com a signé un document",
		i18n.DE: "14:05 https://registration.smart-id.com hat ein Dokument unterschrieben",
	} {
		if s := activityLabel(lang, got[0]); s != want {
			t.Errorf("%s: %q, want %q", lang, s, want)
		}
	}
	if s := activityLabel(i18n.EN, got[2]); !strings.HasSuffix(s, "read your address") {
		t.Errorf("address read told as %q", s)
	}
}
