// Command cardbridge lets web pages use a Belgian eID card through a
// localhost WebSocket or the browser extension's native messaging, and
// reads the card from the command line. Browsers start it as the
// extension's native-messaging host with their own command line
// (chrome-extension://ID/ [--parent-window=N], or a manifest path and an
// extension id).
//
// Usage:
//
//	cardbridge readers            list readers and the cards in them
//	cardbridge read [flags]       read the card's identity, address and certificates
//	cardbridge run [flags]        run the daemon
//	cardbridge install|uninstall|status
//	cardbridge version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/cardbridge/cardbridge/bridge/nativemsg"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// errUsage marks errors that come from a bad command line; they exit 2.
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	cmds := []command{
		{"readers", "list smart card readers and the cards in them", runReaders},
		{"read", "read identity, address, photo and certificates from the card", runRead},
		{"version", "print the version", func(_ context.Context, _ []string, w, _ io.Writer) error {
			_, err := fmt.Fprintln(w, "cardbridge", version)
			return err
		}},
	}
	return append(cmds, extraCommands()...)
}

func init() {
	// The tray must run its UI on the process's main thread on macOS and
	// Windows; locking keeps main's goroutine, which runs it, there.
	runtime.LockOSThread()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(realMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if nativemsg.LooksLikeHostArgs(args) {
		// Started by a browser for the extension, not by a person.
		return runNativeHost(ctx, args, os.Stdin, stdout, stderr)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "cardbridge %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "cardbridge %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "cardbridge: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: cardbridge <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting, so
// realMain decides the exit status.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cardbridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and rejects positional arguments; a bad command
// line is reported as errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
