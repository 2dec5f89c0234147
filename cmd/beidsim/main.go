// Command beidsim puts a simulated Belgian eID card into pcscd's virtual
// reader, so that any PC/SC client sees a card in "Virtual PCD 00 00" that
// answers like a real one.
//
//	go run ./cmd/beidsim --profile ecc|rsa|rsa-ecrrn [--pin 1234] [--person person.json]
//	    [--vpcd 127.0.0.1:35963] [--pki-dir DIR] [--ocsp-addr 127.0.0.1:0]
//	    [--revoked] [--retry 250ms] [--mute-on-early-resend 40ms]
//	    [--foreign-basic-key] [--real-timing] [-v]
//
// pcscd must run with the vpcd driver (scripts/rig.sh start); beidsim
// keeps trying, with backoff, while it is not up yet and after it goes
// away. With --pki-dir the test PKI is kept in DIR (root.pem, ca.pem and
// rrn.pem for a portal to trust, keys.pem to reuse the same hierarchy on
// the next run). beidsim also runs the test PKI's OCSP responder on
// --ocsp-addr (a free loopback port by default; "" for none) and names it
// in the card's certificates, as real cards name the Belgian responder, so
// that a portal checking revocation (webeid does by default) finds it;
// --revoked makes it answer that the card's certificates are revoked. On
// start beidsim prints the card's profile and serial, and the responder's
// URL, to standard output; its log goes to standard error and never shows the PIN.
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
	"net"
	"net/http"
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
	ocsp    string
	revoked bool
	retry   time.Duration
	verbose bool
	mute    time.Duration
	foreign bool
	timed   bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fl := flag.NewFlagSet("beidsim", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg config
	profile := fl.String("profile", "ecc", "card generation: ecc (applet 1.8, P-384), rsa (applet 1.7, RSA-2048) or rsa-ecrrn (applet 1.7, RSA-2048, P-384 National Register key as on cards since 2022)")
	fl.StringVar(&cfg.pin, "pin", "1234", "card PIN, 4 to 12 digits")
	fl.StringVar(&cfg.person, "person", "", "JSON file with the card holder (default: a built-in fictional citizen)")
	fl.StringVar(&cfg.addr, "vpcd", vpcd.DefaultAddr, "address where pcscd's vpcd driver listens")
	fl.StringVar(&cfg.pkiDir, "pki-dir", "", "directory to keep the test PKI in (root.pem, ca.pem, rrn.pem, keys.pem)")
	fl.StringVar(&cfg.ocsp, "ocsp-addr", "127.0.0.1:0", "address of the test PKI's OCSP responder, named in the card's certificates (\"\": none)")
	fl.BoolVar(&cfg.revoked, "revoked", false, "the OCSP responder reports the card's certificates as revoked")
	fl.DurationVar(&cfg.retry, "retry", 250*time.Millisecond, "first wait before reconnecting to vpcd; doubles up to 16x")
	fl.BoolVar(&cfg.verbose, "v", false, "log every command's header and status word")
	fl.DurationVar(&cfg.mute, "mute-on-early-resend", 0, "go mute, as real cards do, when a command follows a 6Cxx answer sooner than this (e.g. 40ms); 0 answers at once")
	fl.BoolVar(&cfg.foreign, "foreign-basic-key", false, "play a counterfeit: a genuine card's files with another basic key inside (applet 1.8)")
	fl.BoolVar(&cfg.timed, "real-timing", false, "answer as slowly as a real card: T=0 at the ATR's speed, chip and signature times (sim.RealTiming)")
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
	if cfg.revoked && cfg.ocsp == "" {
		return nil, fmt.Errorf("--revoked needs the OCSP responder (--ocsp-addr)")
	}
	return &cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "beidsim: ", log.LstdFlags)
	pki, err := loadPKI(cfg, logger)
	if err != nil {
		return err
	}
	var responder *sim.OCSPResponder
	if cfg.ocsp != "" {
		var stopOCSP func()
		if responder, stopOCSP, err = serveOCSP(cfg.ocsp, pki, logger); err != nil {
			return err
		}
		defer stopOCSP()
	}
	card, err := makeCard(cfg, pki)
	if err != nil {
		return err
	}
	if cfg.revoked {
		responder.Revoke(card.AuthCert(), card.SignCert())
	}
	id := card.Person().Identity
	fmt.Fprintf(stdout, "beidsim: profile %s (applet %d.%d), serial %X, card number %s, vpcd %s\n",
		card.Profile(), card.Profile().AppletVersion()>>4, card.Profile().AppletVersion()&0x0F,
		card.Serial(), id.CardNumber, cfg.addr)
	if responder != nil {
		state := "good"
		if cfg.revoked {
			state = "REVOKED"
		}
		fmt.Fprintf(stdout, "beidsim: OCSP responder %s, card certificates %s\n", pki.OCSPURL, state)
	}
	var vc vpcd.Card = card
	if cfg.verbose {
		vc = &loggingCard{Card: card, log: logger}
	}
	return serve(ctx, cfg.addr, vc, card, cfg.retry, logger)
}

// loadPKI loads or creates the test PKI the flags describe.
func loadPKI(cfg *config, logger *log.Logger) (*sim.PKI, error) {
	if cfg.pkiDir == "" {
		return sim.NewPKI(cfg.profile)
	}
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
	return pki, nil
}

// serveOCSP runs the PKI's OCSP responder (with a delegated responder
// certificate, as the Belgian one) on addr and records its URL in pki, so
// that the card's certificates name it.
func serveOCSP(addr string, pki *sim.PKI, logger *log.Logger) (*sim.OCSPResponder, func(), error) {
	responder, err := pki.DelegatedOCSPResponder()
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--ocsp-addr: %w", err)
	}
	pki.OCSPURL = "http://" + ln.Addr().String() + "/ocsp"
	srv := &http.Server{Handler: responder, ReadHeaderTimeout: 5 * time.Second, ErrorLog: logger}
	go srv.Serve(ln)
	logger.Printf("OCSP responder at %s", pki.OCSPURL)
	return responder, func() { srv.Close() }, nil
}

// makeCard builds the card the flags describe, its certificates issued by
// pki.
func makeCard(cfg *config, pki *sim.PKI) (*sim.Card, error) {
	opts := sim.Options{Profile: cfg.profile, PIN: cfg.pin, PKI: pki, MuteOnEarlyResend: cfg.mute, ForeignBasicKey: cfg.foreign}
	if cfg.timed {
		tm := sim.RealTiming(cfg.profile)
		opts.Timing = &tm
	}
	if cfg.person != "" {
		p, err := sim.LoadPerson(cfg.person)
		if err != nil {
			return nil, err
		}
		opts.Person = p
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
