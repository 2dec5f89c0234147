package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRunFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--prompter", "approve"},
		{"--allow-origin", "http://plain.example"},
		{"--allow-origin", "https://a.example/path"},
		{"--port", "70000"},
		{"--log-level", "loud"},
		{"extra"},
	} {
		err := serveDaemon(context.Background(), args, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("run %v: %v, want a usage error", args, err)
		}
	}
}

// TestRunServes starts the daemon, probes its health endpoint and stops it
// by cancelling the context, as SIGTERM does.
func TestRunServes(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- serveDaemon(ctx, []string{"--port", port, "--prompter", "deny", "--allow-origin", "https://portal.example"}, &logs)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + port + "/v1/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), `"protocol":1`) {
				t.Errorf("health = %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not reachable: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
