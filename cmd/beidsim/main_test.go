package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/webeid"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of run and
// reads of the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeVPCD plays pcscd's vpcd driver side of one connection.
type fakeVPCD struct {
	t    *testing.T
	conn net.Conn
}

func (v *fakeVPCD) send(payload []byte) {
	v.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := v.conn.Write(append(frame, payload...)); err != nil {
		v.t.Fatal(err)
	}
}

func (v *fakeVPCD) recv() []byte {
	v.t.Helper()
	v.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(v.conn, hdr[:]); err != nil {
		v.t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(v.conn, b); err != nil {
		v.t.Fatal(err)
	}
	return b
}

func accept(t *testing.T, ln net.Listener) *fakeVPCD {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeVPCD{t: t, conn: conn}
}

func startRun(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, stdout, stderr) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("run did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "pki")
	stdout, stderr, stop := startRun(t, "--profile", "ecc", "--vpcd", ln.Addr().String(), "--pki-dir", dir, "-v")
	v := accept(t, ln)

	v.send([]byte{4}) // get ATR
	if atr := v.recv(); !bytes.Equal(atr, []byte{0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00}) {
		t.Errorf("ATR % X", atr)
	}
	v.send([]byte{1}) // power on: no answer expected
	v.send([]byte{0x80, 0xE4, 0x00, 0x00, 0x1C})
	data := v.recv()
	if len(data) != 30 || data[21] != 0x18 || !bytes.HasSuffix(data, []byte{0x90, 0x00}) {
		t.Errorf("GET CARD DATA: % X", data)
	}
	v.send([]byte{0x00, 0x20, 0x00, 0x01, 0x08, 0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	if sw := v.recv(); !bytes.Equal(sw, []byte{0x90, 0x00}) {
		t.Errorf("VERIFY: % X", sw)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := stdout.String(); !strings.Contains(out, "profile ecc (applet 1.8)") || !strings.Contains(out, "serial 534C494E") {
		t.Errorf("stdout %q", out)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "card inserted") || !strings.Contains(logs, "00 20 00 01 Lc=8") {
		t.Errorf("stderr %q", logs)
	}
	if strings.Contains(logs, "1234") || strings.Contains(logs, "24 12 34") {
		t.Errorf("the log shows the PIN: %q", logs)
	}
	for _, f := range []string{"root.pem", "ca.pem", "rrn.pem", "keys.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// A second run reuses the PKI; another profile is refused.
	_, stderr, stop = startRun(t, "--profile", "ecc", "--vpcd", ln.Addr().String(), "--pki-dir", dir)
	accept(t, ln)
	stop()
	if !strings.Contains(stderr.String(), "using the test PKI") {
		t.Errorf("stderr %q", stderr.String())
	}
	err = run(context.Background(), []string{"--profile", "rsa", "--pki-dir", dir}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ecc PKI") {
		t.Errorf("rsa with an ecc PKI dir: %v", err)
	}
}

// TestRetry starts beidsim before vpcd listens and after the connection
// drops: it must connect once vpcd is there.
func TestRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, stderr, stop := startRun(t, "--vpcd", addr, "--retry", "20ms")
	time.Sleep(150 * time.Millisecond)
	if !strings.Contains(stderr.String(), "waiting for vpcd") {
		t.Errorf("stderr %q", stderr.String())
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	v := accept(t, ln)
	v.send([]byte{4})
	if atr := v.recv(); len(atr) != 20 {
		t.Errorf("ATR % X", atr)
	}
	v.conn.Close() // pcscd restarts
	v = accept(t, ln)
	v.send([]byte{0x80, 0xE4, 0x00, 0x00, 0x1C})
	if rsp := v.recv(); len(rsp) != 30 {
		t.Errorf("after reconnecting: % X", rsp)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "connection lost") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "1.1"}, "unknown profile"},
		{[]string{"--pin", "12"}, "PIN"},
		{[]string{"--person", "/nonexistent.json"}, "no such file"},
		{[]string{"--retry", "0s"}, "--retry"},
		{[]string{"--mute-on-early-resend", "-1ms"}, "--mute-on-early-resend"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// cardFromFlags builds the card beidsim would serve with args.
func cardFromFlags(t *testing.T, args ...string) *sim.Card {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := loadPKI(cfg, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	card, err := makeCard(cfg, pki)
	if err != nil {
		t.Fatal(err)
	}
	return card
}

func TestMuteFlag(t *testing.T) {
	card := cardFromFlags(t, "--mute-on-early-resend", "40ms")
	ctx := context.Background()
	if _, err := card.Transmit(ctx, []byte{0x80, 0xE4, 0x00, 0x00, 0x00}); err != nil { // 6C1C
		t.Fatal(err)
	}
	if _, err := card.Transmit(ctx, []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}); !errors.Is(err, sim.ErrMute) {
		t.Errorf("repeat at once: %v, want the card mute", err)
	}
}

func TestPersonFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stdout, _, stop := startRun(t, "--vpcd", ln.Addr().String(), "--person", filepath.Join("testdata", "person.json"))
	v := accept(t, ln)
	// Select and read the start of the identity file: the German birth
	// date form went through the encoder.
	v.send([]byte{0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31})
	if sw := v.recv(); !bytes.Equal(sw, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT: % X", sw)
	}
	v.send([]byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	id := v.recv()
	if len(id) == 2 && id[0] == 0x6C {
		v.send([]byte{0x00, 0xB0, 0x00, 0x00, id[1]})
		id = v.recv()
	}
	if !bytes.Contains(id, []byte("12.MÄR. 1978")) || !bytes.Contains(id, []byte("Schröder")) {
		t.Errorf("identity file % X", id)
	}
	stop()
	if !strings.Contains(stdout.String(), "card number 592345678981") {
		t.Errorf("stdout %q", stdout.String())
	}
}

// vpcdTransmitter drives the card through the fake vpcd, as pcscd would.
type vpcdTransmitter struct{ v *fakeVPCD }

func (x vpcdTransmitter) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	x.v.send(cmd)
	return x.v.recv(), nil
}

// TestOCSPResponder reads the certificates off the card beidsim inserts
// and checks them the way a portal does: through the OCSP responder their
// AIA names, good by default and revoked with --revoked.
func TestOCSPResponder(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"good", nil, nil},
		{"revoked", []string{"--revoked"}, webeid.ErrRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			dir := filepath.Join(t.TempDir(), "pki")
			stdout, _, _ := startRun(t, append([]string{"--vpcd", ln.Addr().String(), "--pki-dir", dir}, tc.args...)...)
			card := beid.New(vpcdTransmitter{accept(t, ln)})
			ctx := context.Background()
			pki, err := sim.LoadPKI(dir)
			if err != nil {
				t.Fatal(err)
			}
			v, err := webeid.NewValidator(webeid.Config{
				Origin: "https://portal.example", Roots: pki.Roots(), Intermediates: pki.Intermediates(),
				Policies: webeid.Policies{Authentication: []x509.OID{sim.AuthenticationPolicy()}, Signing: []x509.OID{sim.SignaturePolicy()}},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				file    beid.File
				purpose webeid.Purpose
			}{{beid.FileAuthCert, webeid.PurposeAuthentication}, {beid.FileSignCert, webeid.PurposeSigning}} {
				cert, err := card.Certificate(ctx, f.file)
				if err != nil {
					t.Fatal(err)
				}
				if len(cert.OCSPServer) != 1 || !strings.Contains(stdout.String(), "OCSP responder "+cert.OCSPServer[0]) {
					t.Fatalf("certificate names OCSP %q; stdout %q", cert.OCSPServer, stdout.String())
				}
				if err := v.VerifyCertificate(ctx, cert, f.purpose); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
					t.Errorf("%v certificate: %v, want %v", f.purpose, err, tc.want)
				}
			}
		})
	}
}

func TestRealTimingFlag(t *testing.T) {
	card := cardFromFlags(t, "--real-timing", "--profile", "rsa-ecrrn")
	// GET CARD DATA: 5 header + 1 procedure + 28 data + 2 status bytes,
	// 12 etu each at 93 clocks per etu and 4 MHz, and the chip's time.
	tm := sim.RealTiming(sim.ProfileRSAECRRN)
	want := time.Duration(36*12)*tm.ETU() + tm.Command
	if _, err := card.Transmit(context.Background(), []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}); err != nil {
		t.Fatal(err)
	}
	if got := card.CardTime(); got < want {
		t.Errorf("card time %v, want at least %v", got, want)
	}
}
