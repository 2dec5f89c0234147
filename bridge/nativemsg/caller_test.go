package nativemsg_test

import (
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/bridge/nativemsg"
)

func TestParseCaller(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		browser string
		parent  string
		err     error
	}{
		{[]string{"chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk/"}, nativemsg.Chromium, "", nil},
		{[]string{"chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk/", "--parent-window=1234"}, nativemsg.Chromium, "1234", nil},
		{[]string{`C:\Program Files\cardbridge\org.cardbridge.host.firefox.json`, "cardbridge@cardbridge.org"}, nativemsg.Firefox, "", nil},
		{[]string{"/usr/lib/mozilla/native-messaging-hosts/org.cardbridge.host.json", "cardbridge@cardbridge.org"}, nativemsg.Firefox, "", nil},
		{[]string{"chrome-extension://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/"}, "", "", nativemsg.ErrNotOurExtension},
		{[]string{"chrome-extension://eabimfdgphmkgijljjnoadmjicgbnnkk"}, "", "", nativemsg.ErrNotOurExtension},
		{[]string{"/x/org.cardbridge.host.json", "evil@example.org"}, "", "", nativemsg.ErrNotOurExtension},
	} {
		c, err := nativemsg.ParseCaller(tc.args)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: %v, want %v", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || c.Browser != tc.browser || c.ParentWindow != tc.parent {
			t.Errorf("%q: %+v, %v", tc.args, c, err)
		}
		if !nativemsg.LooksLikeHostArgs(tc.args) {
			t.Errorf("%q not recognised as a host command line", tc.args)
		}
	}
	for _, args := range [][]string{{"run"}, {"install"}, {"read", "--json"}, {"status", "--port", "1"}, {"native-manifest", "--browser"}} {
		if nativemsg.LooksLikeHostArgs(args) {
			t.Errorf("%q taken for a host command line", args)
		}
	}
}
