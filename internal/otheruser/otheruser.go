// Package otheruser runs a small client program as another OS user
// (nobody), for tests of what another local user can reach of a user's
// daemon. It needs root, to change user, and skips loudly otherwise.
package otheruser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Client builds the client program (package otheruser/client) into a
// directory every user can read and returns its path. It skips the test
// loudly when the test does not run as root or cannot change user.
func Client(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("\n\n*** OTHER-USER TEST NOT RUN: it must run as root to start a client as nobody ***\n")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("\n\n*** OTHER-USER TEST NOT RUN: neither setpriv nor runuser is installed ***\n")
		}
	}
	dir, err := os.MkdirTemp("", "cardbridge-otheruser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/cardbridge/cardbridge/internal/otheruser/client")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the other-user client: %v\n%s", err, out)
	}
	return bin
}

// Run runs the client as nobody with args and returns what it printed.
func Run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if _, err := exec.LookPath("setpriv"); err == nil {
		cmd = exec.CommandContext(ctx, "setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "nobody", "--", bin}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), ":") {
		t.Fatalf("running the client as nobody: %v\n%s", err, out)
	}
	return string(out)
}
