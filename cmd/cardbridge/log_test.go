package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJournalKeepsToErrors is issue 10 item 7: every log line was also
// written to stderr, which a service manager puts in the system journal
// that other groups may read. With a log file, stderr gets errors only.
func TestJournalKeepsToErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cardbridge.log")
	var stderr bytes.Buffer
	log, got, closeLog := openLog(path, slog.LevelInfo, &stderr)
	log.Info("connected", "origin", "https://portal.example")
	log.Warn("refused", "origin", "https://visited.example")
	log.Error("cannot store consent", "origin", "https://portal.example")
	closeLog()
	if got != path {
		t.Fatalf("log path %q", got)
	}
	if s := stderr.String(); strings.Contains(s, "visited.example") || strings.Contains(s, "connected") ||
		!strings.Contains(s, "cannot store consent") {
		t.Errorf("stderr (the journal) got:\n%s", s)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"connected", "visited.example", "cannot store consent"} {
		if !strings.Contains(string(file), want) {
			t.Errorf("log file lacks %q", want)
		}
	}
	// Without a log file, stderr is the log.
	stderr.Reset()
	log, _, closeLog = openLog("-", slog.LevelInfo, &stderr)
	log.Info("connected", "origin", "https://portal.example")
	closeLog()
	if !strings.Contains(stderr.String(), "connected") {
		t.Errorf("stderr-only log lost a line: %q", stderr.String())
	}
}
