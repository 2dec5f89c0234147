package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWebSocketSetting(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	off, on := false, true
	for _, tc := range []struct {
		sys, user *bool
		want      bool
		by        string
	}{
		{nil, nil, true, ""},
		{nil, &off, false, "user"},
		{&off, &on, false, "administrator"},
		{&on, &off, false, "user"},
		{&on, nil, true, ""},
	} {
		got, by := WebSocketEnabled(System{WebSocket: tc.sys}, Config{WebSocket: tc.user})
		if got != tc.want || by != tc.by {
			t.Errorf("sys %v user %v: %v %q, want %v %q", tc.sys, tc.user, got, by, tc.want, tc.by)
		}
	}
	s, err := LoadSystem(write("off.json", `{"websocket": false}`))
	if err != nil || s.WebSocket == nil || *s.WebSocket {
		t.Errorf("off.json: %+v, %v", s, err)
	}
	if s, err := LoadSystem(filepath.Join(dir, "missing.json")); err != nil || s.WebSocket != nil {
		t.Errorf("missing: %+v, %v", s, err)
	}
	for _, bad := range []string{`{"websocket": "no"}`, `{"websocket": false,`, `{"websockets": false}`, `{} {}`} {
		if _, err := LoadSystem(write("bad.json", bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	c, err := parse("user.json", []byte(`{"origins":[],"websocket":false}`), false)
	if err != nil || c.WebSocket == nil || *c.WebSocket {
		t.Errorf("user config: %+v, %v", c, err)
	}
}

func TestSystemAllowedOrigins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"allowedOrigins": ["https://Portal.Example:443", "https://idp.example:8443"], "onlyAllowedOrigins": true}`)
	s, err := LoadSystem(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://portal.example", "https://idp.example:8443"}; !slices.Equal(s.AllowedOrigins, want) || !s.OnlyAllowedOrigins {
		t.Errorf("got %+v, want origins %q and onlyAllowedOrigins", s, want)
	}
	// An origin the daemon could never match is an administrator's
	// mistake: refusing to start says so, where ignoring it would not.
	for _, bad := range []string{
		`{"allowedOrigins": ["http://portal.example"]}`,
		`{"allowedOrigins": ["https://portal.example/login"]}`,
		`{"allowedOrigins": ["portal.example"]}`,
		`{"allowedOrigins": "https://portal.example"}`,
		`{"onlyAllowedOrigins": "yes"}`,
	} {
		write(bad)
		if _, err := LoadSystem(path); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
