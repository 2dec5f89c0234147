// Command beidsim puts a simulated Belgian eID card into pcscd's virtual
// reader, so that any PC/SC client sees a card in "Virtual PCD 00 00" that
// answers like a real one.
//
//	go run ./cmd/beidsim --profile ecc|rsa [--pin 1234] [--person person.json]
//	    [--vpcd 127.0.0.1:35963] [--pki-dir DIR] [--retry 250ms]
//	    [--mute-on-early-resend 40ms] [-v]
//
// pcscd must run with the vpcd driver (scripts/rig.sh start); beidsim
// keeps trying, with backoff, while it is not up yet and after it goes
// away. With --pki-dir the test PKI is kept in DIR (root.pem, ca.pem and
// rrn.pem for a portal to trust, keys.pem to reuse the same hierarchy on
// the next run). On start beidsim prints the card's profile and serial to
// standard output; its log goes to standard error and never shows the PIN.
// SIGINT or SIGTERM pulls the card and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/pcsc/vpcd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "beidsim:", err)
		os.Exit(1)
	}
}

// maxRetryFactor caps the reconnection backoff at this multiple of the
// initial wait.
const maxRetryFactor = 16

type config struct {
	profile sim.Profile
	pin     string
	person  string
	addr    string
	pkiDir  string
	retry   time.Duration
	verbose bool
	mute    time.Duration
	foreign bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fl := flag.NewFlagSet("beidsim", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg config
	profile := fl.String("profile", "ecc", "card generation: ecc (applet 1.8, P-384) or rsa (applet 1.7, RSA-2048)")
	fl.StringVar(&cfg.pin, "pin", "1234", "card PIN, 4 to 12 digits")
	fl.StringVar(&cfg.person, "person", "", "JSON file with the card holder (default: a built-in fictional citizen)")
	fl.StringVar(&cfg.addr, "vpcd", vpcd.DefaultAddr, "address where pcscd's vpcd driver listens")
	fl.StringVar(&cfg.pkiDir, "pki-dir", "", "directory to keep the test PKI in (root.pem, ca.pem, rrn.pem, keys.pem)")
	fl.DurationVar(&cfg.retry, "retry", 250*time.Millisecond, "first wait before reconnecting to vpcd; doubles up to 16x")
	fl.BoolVar(&cfg.verbose, "v", false, "log every command's header and status word")
	fl.DurationVar(&cfg.mute, "mute-on-early-resend", 0, "go mute, as real cards do, when a command follows a 6Cxx answer sooner than this (e.g. 40ms); 0 answers at once")
	fl.BoolVar(&cfg.foreign, "foreign-basic-key", false, "play a counterfeit: a genuine card's files with another basic key inside (applet 1.8)")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	var err error
	if cfg.profile, err = sim.ParseProfile(*profile); err != nil {
		return nil, err
	}
	if cfg.retry <= 0 {
		return nil, fmt.Errorf("--retry must be positive")
	}
	if cfg.mute < 0 {
		return nil, fmt.Errorf("--mute-on-early-resend must not be negative")
	}
	return &cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "beidsim: ", log.LstdFlags)
	card, err := makeCard(cfg, logger)
	if err != nil {
		return err
	}
	id := card.Person().Identity
	fmt.Fprintf(stdout, "beidsim: profile %s (applet %d.%d), serial %X, card number %s, vpcd %s\n",
		card.Profile(), card.Profile().AppletVersion()>>4, card.Profile().AppletVersion()&0x0F,
		card.Serial(), id.CardNumber, cfg.addr)
	var vc vpcd.Card = card
	if cfg.verbose {
		vc = &loggingCard{Card: card, log: logger}
	}
	return serve(ctx, cfg.addr, vc, card, cfg.retry, logger)
}

// makeCard builds the card the flags describe, loading or creating the PKI.
func makeCard(cfg *config, logger *log.Logger) (*sim.Card, error) {
	opts := sim.Options{Profile: cfg.profile, PIN: cfg.pin, MuteOnEarlyResend: cfg.mute, ForeignBasicKey: cfg.foreign}
	if cfg.person != "" {
		p, err := sim.LoadPerson(cfg.person)
		if err != nil {
			return nil, err
		}
		opts.Person = p
	}
	if cfg.pkiDir != "" {
		pki, err := sim.LoadPKI(cfg.pkiDir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if pki, err = sim.NewPKI(cfg.profile); err != nil {
				return nil, err
			}
			if err := pki.WriteDir(cfg.pkiDir); err != nil {
				return nil, err
			}
			logger.Printf("wrote a new %s test PKI to %s", cfg.profile, cfg.pkiDir)
		case err != nil:
			return nil, err
		case pki.Profile != cfg.profile:
			return nil, fmt.Errorf("%s holds a %s PKI; use another --pki-dir for --profile %s", cfg.pkiDir, pki.Profile, cfg.profile)
		default:
			logger.Printf("using the test PKI in %s", cfg.pkiDir)
		}
		opts.PKI = pki
	}
	return sim.New(opts)
}

// serve keeps the card in the virtual reader until ctx ends: it connects to
// vpcd, and whenever that fails or the connection drops (pcscd not started
// yet, restarted, or stopped) it tries again after a wait that doubles up to
// maxRetryFactor times retry.
func serve(ctx context.Context, addr string, vc vpcd.Card, card *sim.Card, retry time.Duration, logger *log.Logger) error {
	wait := retry
	waiting := false // log an outage once, not at every attempt
	for {
		in, err := vpcd.Insert(ctx, addr, vc)
		if err == nil {
			logger.Printf("card inserted at %s", addr)
			waiting, wait = false, retry
			err = in.Wait()
			if ctx.Err() != nil {
				logger.Printf("card removed, stopping")
				return nil
			}
			if errors.Is(err, vpcd.ErrPulled) {
				// Only a test hook pulls a card, or it went mute
				// (--mute-on-early-resend); put it back, reset.
				card.Reinsert()
			}
			logger.Printf("connection lost: %v; reconnecting", err)
		} else {
			if ctx.Err() != nil {
				return nil
			}
			if !waiting {
				logger.Printf("waiting for vpcd: %v", err)
				waiting = true
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			logger.Printf("stopping")
			return nil
		case <-t.C:
		}
		wait = min(2*wait, maxRetryFactor*retry)
	}
}

// loggingCard logs each command's header and the status word answered. It
// never logs data: a VERIFY carries the PIN.
type loggingCard struct {
	*sim.Card
	log *log.Logger
}

func (l *loggingCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	rsp, err := l.Card.Transmit(ctx, cmd)
	c, perr := apdu.ParseCommand(cmd)
	desc := fmt.Sprintf("%d malformed bytes", len(cmd))
	if perr == nil {
		desc = c.String()
	}
	switch r, rerr := apdu.ParseResponse(rsp); {
	case err != nil:
		l.log.Printf("%s: %v", desc, err)
	case rerr == nil:
		l.log.Printf("%s -> %d bytes, %s", desc, len(r.Data), r.SW)
	}
	return rsp, err
}
