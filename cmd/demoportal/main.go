// Command demoportal runs the demo "Smart-ID registration" portal: a web
// site that uses the cardbridge daemon to log in with a Belgian eID card
// and to sign an application form with it.
//
//	demoportal --sim-pki bin/testpki
//	demoportal --trust-root belgiumrca4.pem --intermediate citizenca.pem
//
// serves https://localhost:8443 with a self-signed certificate generated at
// start (or --cert/--key). --sim-pki DIR trusts the simulator's test PKI
// that `beidsim --pki-dir DIR` writes (DIR/root.pem, DIR/ca.pem) and
// accepts its test certificate policies; --trust-root and --intermediate
// name PEM files of other CAs, whose leaves must then carry the Belgian eID
// policies. Every certificate is checked with OCSP at the responder it
// names (beidsim runs one for its card) or at --ocsp-responder; a card
// whose status cannot be established is refused. --no-revocation-check
// turns that off, for development only. --http serves plain http for
// development; the daemon then needs --dev-allow-http-origin with the
// portal's origin.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/cmd/demoportal/portal"
	"github.com/cardbridge/cardbridge/webeid"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demoportal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr *os.File) error {
	fl := flag.NewFlagSet("demoportal", flag.ContinueOnError)
	var (
		addr      = fl.String("addr", "localhost:8443", "listen address")
		origin    = fl.String("origin", "", "the portal's public origin, used to validate tokens (default: derived from --addr)")
		certFile  = fl.String("cert", "", "TLS certificate PEM (default: self-signed, generated at start)")
		keyFile   = fl.String("key", "", "TLS private key PEM")
		plainHTTP = fl.Bool("http", false, "serve plain http (development only)")
		bridgeURL = fl.String("bridge-url", portal.DefaultBridgeURL, "cardbridge daemon endpoint the page connects to")
		webDir    = fl.String("web", "", "serve the web/ directory from disk instead of the embedded copy (for editing)")
		logLevel  = fl.String("log-level", "info", "debug, info, warn or error")
		simPKI    = fl.String("sim-pki", "", "directory of the simulator's test PKI (beidsim --pki-dir): trust its root and CA, accept its test policies")
		noRevoke  = fl.Bool("no-revocation-check", false, "do not check certificates with OCSP (development only: a revoked card then logs in)")
		ocspURL   = fl.String("ocsp-responder", "", "designated OCSP responder URL, instead of the one each certificate names")
		ocspCert  = fl.String("ocsp-responder-cert", "", "PEM file of the designated responder's signing certificate (with --ocsp-responder)")
		roots     multiFlag
		inters    multiFlag
	)
	fl.Var(&roots, "trust-root", "PEM file of trusted root CA certificates (repeatable; this or --sim-pki is required)")
	fl.Var(&inters, "intermediate", "PEM file of intermediate CA certificates, e.g. the Citizen CA (repeatable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var policies webeid.Policies
	if *simPKI != "" {
		roots = append(roots, filepath.Join(*simPKI, "root.pem"))
		inters = append(inters, filepath.Join(*simPKI, "ca.pem"))
		policies = webeid.Policies{Authentication: []x509.OID{sim.AuthenticationPolicy()}, Signing: []x509.OID{sim.SignaturePolicy()}}
	}
	revocation := webeid.RevocationConfig{Disabled: *noRevoke}
	if (*ocspURL == "") != (*ocspCert == "") {
		return errors.New("--ocsp-responder and --ocsp-responder-cert go together")
	}
	if *ocspURL != "" {
		certs, err := loadCerts(*ocspCert)
		if err != nil {
			return err
		}
		revocation.Responders = []webeid.OCSPResponder{{URL: *ocspURL, Certificate: certs[0]}}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if len(roots) == 0 {
		return errors.New("--trust-root or --sim-pki is required (e.g. --sim-pki bin/testpki, as beidsim --pki-dir wrote it)")
	}
	rootPool, err := loadPool(roots)
	if err != nil {
		return err
	}
	var interPool *x509.CertPool
	if len(inters) > 0 {
		if interPool, err = loadPool(inters); err != nil {
			return err
		}
	}
	if *origin == "" {
		*origin = defaultOrigin(*addr, *plainHTTP)
	}
	v, err := webeid.NewValidator(webeid.Config{Origin: *origin, Roots: rootPool, Intermediates: interPool, Policies: policies, Revocation: revocation})
	if err != nil {
		return err
	}
	if !v.RevocationChecked() {
		log.Warn("revocation checking is OFF (--no-revocation-check): a revoked card logs in and signs")
	}
	cfg := portal.Config{Validator: v, BridgeURL: *bridgeURL, Insecure: *plainHTTP, Logger: log}
	if *webDir != "" {
		cfg.Static = os.DirFS(*webDir)
		if _, err := fs.Stat(cfg.Static, "demo/index.html"); err != nil {
			return fmt.Errorf("--web %s: %w", *webDir, err)
		}
	}
	p, err := portal.New(cfg)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           p.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *plainHTTP {
		log.Warn("serving PLAIN HTTP: development only; the daemon must run with --dev-allow-http-origin " + v.Origin())
	} else {
		cert, err := serverCertificate(*certFile, *keyFile, ln.Addr())
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	log.Info("demo portal listening", "url", v.Origin(), "addr", ln.Addr().String(), "bridge", *bridgeURL)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// defaultOrigin turns the listen address into the origin a browser on the
// same machine would use: a wildcard or loopback host becomes "localhost".
func defaultOrigin(addr string, plain bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) {
		host = "localhost"
	}
	scheme := "https"
	if plain {
		scheme = "http"
	}
	if port == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func loadPool(files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		certs, err := loadCerts(f)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// loadCerts reads the PEM certificates in file; there must be one at
// least.
func loadCerts(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", file)
	}
	return certs, nil
}

func serverCertificate(certFile, keyFile string, addr net.Addr) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("--cert and --key go together")
		}
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsLoopback() && !ta.IP.IsUnspecified() {
		hosts = append(hosts, ta.IP.String())
	}
	return portal.SelfSignedCertificate(hosts, time.Now())
}
