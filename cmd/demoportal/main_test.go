package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

func TestDefaultOrigin(t *testing.T) {
	cases := []struct {
		addr  string
		plain bool
		want  string
	}{
		{"localhost:8443", false, "https://localhost:8443"},
		{"127.0.0.1:8443", false, "https://localhost:8443"},
		{":8443", false, "https://localhost:8443"},
		{"[::1]:8080", true, "http://localhost:8080"},
		{"0.0.0.0:443", false, "https://localhost:443"},
		{"portal.example:8443", false, "https://portal.example:8443"},
	}
	for _, tc := range cases {
		if got := defaultOrigin(tc.addr, tc.plain); got != tc.want {
			t.Errorf("defaultOrigin(%q, %v) = %q, want %q", tc.addr, tc.plain, got, tc.want)
		}
	}
}

func writeRoot(t *testing.T, dir string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "r"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "root.pem")
	os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return f
}

func TestLoadPool(t *testing.T) {
	dir := t.TempDir()
	root := writeRoot(t, dir)
	if _, err := loadPool([]string{root}); err != nil {
		t.Errorf("valid PEM: %v", err)
	}
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("nothing here"), 0o644)
	if _, err := loadPool([]string{empty}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := loadPool([]string{filepath.Join(dir, "missing.pem")}); err == nil {
		t.Error("missing file accepted")
	}
}

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	root := writeRoot(t, dir)
	pkiDir := filepath.Join(dir, "testpki")
	pki, err := sim.NewPKI(sim.ProfileECC)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteDir(pkiDir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start and stop at once: checks the wiring, not the serving
	cases := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--addr", "127.0.0.1:0"}, "--trust-root or --sim-pki is required"},
		{[]string{"--addr", "127.0.0.1:0", "--sim-pki", pkiDir}, ""},
		{[]string{"--addr", "127.0.0.1:0", "--sim-pki", filepath.Join(dir, "nothing")}, "no such file"},
		{[]string{"--addr", "127.0.0.1:0", "--sim-pki", pkiDir, "--no-revocation-check"}, ""},
		{[]string{"--addr", "127.0.0.1:0", "--sim-pki", pkiDir, "--ocsp-responder", "http://127.0.0.1:1/"}, "go together"},
		{[]string{"--addr", "127.0.0.1:0", "--sim-pki", pkiDir, "--ocsp-responder", "http://127.0.0.1:1/", "--ocsp-responder-cert", filepath.Join(pkiDir, "ca.pem")}, ""},
		{[]string{"--addr", "127.0.0.1:0", "--sim-pki", pkiDir, "--ocsp-responder", "ftp://x/", "--ocsp-responder-cert", filepath.Join(pkiDir, "ca.pem")}, "not an http"},
		{[]string{"--addr", "127.0.0.1:0", "--trust-root", root, "--origin", "http://portal.example"}, "http is only allowed for localhost"},
		{[]string{"--addr", "127.0.0.1:0", "--trust-root", root, "--bridge-url", "http://x"}, "BridgeURL"},
		{[]string{"--addr", "127.0.0.1:0", "--trust-root", root, "--cert", "x.pem"}, "--cert and --key go together"},
		{[]string{"--addr", "127.0.0.1:0", "--trust-root", root, "--web", dir}, "demo/index.html"},
		{[]string{"--addr", "127.0.0.1:0", "--trust-root", root}, ""},
		{[]string{"--addr", "127.0.0.1:0", "--trust-root", root, "--http"}, ""},
	}
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	for _, tc := range cases {
		err := run(ctx, tc.args, devnull)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("run %v: %v", tc.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("run %v: error %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}
