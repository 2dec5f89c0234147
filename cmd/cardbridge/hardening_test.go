package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runBinary runs the built binary to its end and returns its output and
// exit code.
func runBinary(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%v did not end: %s", args, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// TestPortHeld reproduces issue 9's squatter: another program holds
// 127.0.0.1:PORT (or [::1]:PORT). cardbridge run must refuse to start,
// naming the problem, rather than serve the other family only while pages
// talk to the squatter; status says another program holds the port.
func TestPortHeld(t *testing.T) {
	bin := buildTestBinary(t)
	for _, family := range []string{"127.0.0.1", "::1"} {
		t.Run(family, func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(family, "0"))
			if err != nil {
				t.Skipf("no %s: %v", family, err)
			}
			defer ln.Close()
			// The squatter answers HTTP, not like cardbridge.
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"))
					c.Close()
				}
			}()
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			env := userEnv(t)
			out, code := runBinary(t, bin, env, "run", "--port", port, "--prompter", "deny", "--tray", "off", "--log-file", "-")
			if code == 0 {
				t.Fatalf("run exited 0 with the port held:\n%s", out)
			}
			hostPort := net.JoinHostPort(family, port)
			if !strings.Contains(out, "another program holds the port") || !strings.Contains(out, hostPort+" is taken") {
				t.Fatalf("run's message does not name the problem:\n%s", out)
			}
			if family == "127.0.0.1" {
				out, _ := runBinary(t, bin, env, "status", "--port", port)
				if !strings.Contains(out, "another program holds the port 127.0.0.1:"+port) {
					t.Fatalf("status does not name the cause:\n%s", out)
				}
			}
		})
	}
}

// TestWebSocketOff: the user's config, or the administrator's, turns the
// WebSocket off; the daemon then listens on no TCP port and still serves
// the extension's relay. An unreadable administrator's config stops it.
func TestWebSocketOff(t *testing.T) {
	bin := buildTestBinary(t)
	for _, by := range []string{"user", "administrator"} {
		t.Run(by, func(t *testing.T) {
			env := userEnv(t)
			var args []string
			sys := filepath.Join(t.TempDir(), "config.json")
			if by == "user" {
				home := strings.TrimPrefix(env[0], "HOME=")
				cfg := filepath.Join(home, ".config", "cardbridge", "config.json")
				os.MkdirAll(filepath.Dir(cfg), 0o700)
				if err := os.WriteFile(cfg, []byte(`{"origins":[],"websocket":false}`), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(sys, []byte(`{"websocket":false}`), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args = append(args, "--system-config", sys)
			d := startDaemon(t, bin, env, args...)
			d.waitLog(t, "the WebSocket is turned off")
			d.waitLog(t, "by="+by)
			port := portOf(t, d)
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
				c.Close()
				t.Fatalf("something listens on the daemon's port %s with the WebSocket off", port)
			}
			if by == "user" {
				out, _ := runBinary(t, bin, env, "status", "--port", port)
				if !strings.Contains(out, "websocket:          off (turned off by the user's config)") || !strings.Contains(out, "(the daemon answers)") {
					t.Errorf("status:\n%s", out)
				}
			}
		})
	}
	t.Run("unreadable administrator's config", func(t *testing.T) {
		sys := filepath.Join(t.TempDir(), "config.json")
		os.WriteFile(sys, []byte(`{"websocket":"off"}`), 0o644)
		out, code := runBinary(t, bin, userEnv(t), "run", "--system-config", sys, "--prompter", "deny", "--tray", "off", "--log-file", "-")
		if code == 0 || !strings.Contains(out, "administrator's config is unusable") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

// portOf returns the --port a daemon was started with.
func portOf(t *testing.T, d *daemonProc) string {
	for i, a := range d.cmd.Args {
		if a == "--port" && i+1 < len(d.cmd.Args) {
			return d.cmd.Args[i+1]
		}
	}
	t.Fatal("no --port")
	return ""
}
