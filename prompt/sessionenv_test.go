package prompt

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"testing"
)

func TestImportSessionEnv(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	manager := []byte("HOME=/home/u\nDISPLAY=:0\nXAUTHORITY=/run/user/1000/xauth\nWAYLAND_DISPLAY=wayland-0\nPATH=/bin\n")
	tests := []struct {
		name string
		env  map[string]string
		show func(context.Context) ([]byte, error)
		want map[string]string
	}{
		{"imports display vars only", map[string]string{},
			func(context.Context) ([]byte, error) { return manager, nil },
			map[string]string{"DISPLAY": ":0", "XAUTHORITY": "/run/user/1000/xauth", "WAYLAND_DISPLAY": "wayland-0"}},
		{"own display wins", map[string]string{"DISPLAY": ":5"},
			func(context.Context) ([]byte, error) { t.Error("manager asked needlessly"); return manager, nil },
			map[string]string{"DISPLAY": ":5"}},
		{"no manager", map[string]string{},
			func(context.Context) ([]byte, error) { return nil, errors.New("no bus") },
			map[string]string{}},
	}
	for _, tt := range tests {
		env := maps.Clone(tt.env)
		importSessionEnv(context.Background(), func(k string) string { return env[k] },
			func(k, v string) error { env[k] = v; return nil }, tt.show)
		if !maps.Equal(env, tt.want) {
			t.Errorf("%s: env = %v, want %v", tt.name, env, tt.want)
		}
	}
}
