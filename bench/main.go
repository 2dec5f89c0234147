// Command bench measures what the daemon costs and holds it against its
// targets, in one run on one machine:
//
//	(a) a full card read (identity, address, photo) through the daemon's
//	    WebSocket against the same card work in process, through the same
//	    PC/SC stack;
//	(b) the APDUs a full read takes against the minimum for the files read;
//	(c) the latency of "readers" at 1, 10 and 100 concurrent pages;
//	(d) the daemon's CPU time while idle with a page subscribed to reader
//	    events (it must block on PC/SC change notification, never poll);
//	(e) the daemon's resident memory, idle and under load;
//	(f) the time from exec to the first accepted WebSocket handshake;
//	(g) the APDUs of the registration flow (readers, identity, address,
//	    photo, certificates, authenticate, sign) against its floor;
//	(h) that flow's time on the real-timed simulated card divided by the
//	    time the card itself spent;
//	(i) a full read over native messaging (the binary as the extension's
//	    host, relaying to the daemon's core) against in process.
//
// Each figure is printed with its target and PASS or MISS; the exit status
// is 1 if any target is missed (except figures named with -advisory), 2 if
// the bench itself failed.
//
// It needs the PC/SC rig (scripts/rig.sh start) and plugs a simulated card
// into the virtual reader itself, holding the rig lock as the tests do.
// (d), (e) and (f) run "cardbridge run" as a subprocess (built here unless
// -bin names a binary); a subprocess cannot be given a scripted prompter,
// and the shipped binary must never approve anything by itself, so it is
// pre-allowed one origin with -allow-origin and measured on methods that
// need no dialog. (a) runs the daemon's server in process with a scripted
// prompter.
//
// Usage:
//
//	go run ./bench                 # the full run: 60 s idle window
//	go run ./bench -short          # CI: fewer rounds, 5 s idle window
//	go run ./bench -only a -rounds 600 -cpuprofile a.prof   # work on one figure
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	short   bool
	idle    time.Duration
	bin     string
	rounds  int // full reads per side in (a)
	starts  int // daemon starts in (f)
	profile string
	// advisory are figure letters whose misses are reported but do not
	// fail the run.
	advisory string
	// only are the figure letters to measure ("" for all); (b) comes with
	// (a), whose reads it counts.
	only string
	// cpuprofile names a file for a CPU profile of this process during
	// (a): the in-process daemon and the direct reads.
	cpuprofile string
}

// measures reports whether figure letter is to be measured.
func (o options) measures(letter string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), letter)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.BoolVar(&o.short, "short", false, "fewer rounds and a 5 s idle window, for CI")
	fs.DurationVar(&o.idle, "idle", 0, "idle window for the CPU figure (default 60s, 5s with -short)")
	fs.StringVar(&o.bin, "bin", "", "cardbridge binary to measure (default: build ./cmd/cardbridge)")
	fs.StringVar(&o.profile, "profile", "ecc", "simulated card: ecc (applet 1.8) or rsa (applet 1.7)")
	fs.StringVar(&o.advisory, "advisory", "", "figure letters (e.g. \"a,c\") whose misses do not fail the run")
	fs.StringVar(&o.only, "only", "", "figure letters (e.g. \"a,c\") to measure; default all ((b) comes with (a))")
	rounds := fs.Int("rounds", 0, "full reads per side in (a) (default 150, 30 with -short)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of (a) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.idle == 0 {
		o.idle = 60 * time.Second
		if o.short {
			o.idle = 5 * time.Second
		}
	}
	o.rounds, o.starts = 150, 15
	if o.short {
		o.rounds, o.starts = 30, 5
	}
	if *rounds > 0 {
		o.rounds = *rounds
	}
	r := &report{w: stdout, advisory: o.advisory}
	if err := bench(ctx, o, r); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	r.summary()
	if r.missed > 0 {
		return 1
	}
	return 0
}

// bench runs every measurement.
func bench(ctx context.Context, o options, r *report) error {
	cs, err := insertCard(ctx, o.profile)
	if err != nil {
		return err
	}
	defer cs.close()
	r.header(cs)

	if o.measures("a") || o.measures("b") {
		if err := benchRead(ctx, o, cs, r); err != nil {
			return fmt.Errorf("full read: %w", err)
		}
	}
	if o.measures("c") {
		if err := benchReadersLatency(ctx, o, r); err != nil {
			return fmt.Errorf("readers latency: %w", err)
		}
	}
	if o.measures("g") || o.measures("h") {
		if err := benchFlow(ctx, o, cs, r); err != nil {
			return fmt.Errorf("registration flow: %w", err)
		}
	}
	if !o.measures("d") && !o.measures("e") && !o.measures("f") && !o.measures("i") {
		return nil
	}
	bin, cleanup, err := daemonBinary(ctx, o.bin)
	if err != nil {
		return err
	}
	defer cleanup()
	if o.measures("i") {
		if err := benchNative(ctx, o, bin, cs, r); err != nil {
			return fmt.Errorf("native messaging: %w", err)
		}
	}
	if o.measures("d") || o.measures("e") {
		if err := benchDaemon(ctx, o, bin, r); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
	}
	if o.measures("f") {
		if err := benchStartup(ctx, o, bin, r); err != nil {
			return fmt.Errorf("start-up: %w", err)
		}
	}
	return nil
}

// report prints the figures as a table.
type report struct {
	w        io.Writer
	advisory string
	missed   int // misses that fail the run
	advised  int // misses of advisory figures
	n        int
}

func (r *report) header(cs *cardSlot) {
	fmt.Fprintf(r.w, "cardbridge bench: %s card in %q, pcscd+vpcd\n\n", cs.profileName, cs.reader)
	fmt.Fprintf(r.w, "%-66s %-20s %-30s %s\n", "figure", "target", "measured", "")
}

// figure prints one line; ok decides PASS or MISS.
func (r *report) figure(name, target, measured string, ok bool) {
	r.n++
	verdict := "PASS"
	switch {
	case ok:
	case r.isAdvisory(name):
		verdict = "MISS (advisory)"
		r.advised++
	default:
		verdict = "MISS"
		r.missed++
	}
	fmt.Fprintf(r.w, "%-66s %-20s %-30s %s\n", name, target, measured, verdict)
}

// note prints an indented remark under the last figure.
func (r *report) note(format string, args ...any) {
	fmt.Fprintf(r.w, "    %s\n", fmt.Sprintf(format, args...))
}

// isAdvisory reports whether the figure, named "(x) ...", is one of the
// advisory letters.
func (r *report) isAdvisory(name string) bool {
	if len(name) < 3 || name[0] != '(' || name[2] != ')' {
		return false
	}
	return slices.Contains(strings.Split(r.advisory, ","), name[1:2])
}

func (r *report) summary() {
	fmt.Fprintf(r.w, "\n%d figures, %d targets missed", r.n, r.missed+r.advised)
	if r.advised > 0 {
		fmt.Fprintf(r.w, " (%d advisory)", r.advised)
	}
	fmt.Fprintln(r.w)
}
