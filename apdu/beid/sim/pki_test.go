package sim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// TestCertificateChain reads the five certificate files as a host would
// and verifies auth/sign -> CA -> root and RRN -> root.
func TestCertificateChain(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			c := newCardShared(t, p)
			certs := map[string]*x509.Certificate{}
			for name, fid := range map[string]string{"auth": "5038", "sign": "5039", "ca": "503A", "root": "503B", "rrn": "503C"} {
				file := readFile(t, c, "3F00DF00"+fid, 0xFC)
				der := trimCert(t, file)
				if pad := len(file) - len(der); pad != p.certPadding() {
					t.Errorf("%s: %d bytes of padding, want %d", name, pad, p.certPadding())
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				certs[name] = cert
			}
			pki := c.PKI()
			if !certs["root"].Equal(pki.Root) || !certs["ca"].Equal(pki.CA) || !certs["rrn"].Equal(pki.RRN) {
				t.Error("certificate files differ from the PKI")
			}
			inter := x509.NewCertPool()
			inter.AddCert(certs["ca"])
			at := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
			for _, leaf := range []struct {
				name string
				eku  x509.ExtKeyUsage
			}{{"auth", x509.ExtKeyUsageClientAuth}, {"sign", x509.ExtKeyUsageAny}} {
				chains, err := certs[leaf.name].Verify(x509.VerifyOptions{
					Roots: pki.Roots(), Intermediates: inter, CurrentTime: at,
					KeyUsages: []x509.ExtKeyUsage{leaf.eku},
				})
				if err != nil || len(chains[0]) != 3 {
					t.Errorf("%s chain: %v", leaf.name, err)
				}
			}
			if _, err := certs["rrn"].Verify(x509.VerifyOptions{Roots: pki.Roots(), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("RRN chain: %v", err)
			}
			other := testPKI[ProfileRSA]
			if p == ProfileRSA {
				other = testPKI[ProfileECC]
			}
			if _, err := certs["auth"].Verify(x509.VerifyOptions{Roots: other.Roots(), Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
				t.Error("auth certificate verifies under another root")
			}
			if certs["auth"].KeyUsage&x509.KeyUsageDigitalSignature == 0 || certs["sign"].KeyUsage&x509.KeyUsageContentCommitment == 0 {
				t.Error("key usages")
			}
			wantKey := map[Profile]x509.PublicKeyAlgorithm{ProfileRSA: x509.RSA, ProfileECC: x509.ECDSA, ProfileRSAECRRN: x509.RSA}[p]
			for name, cert := range certs {
				want := wantKey
				if name == "rrn" && p == ProfileRSAECRRN {
					want = x509.ECDSA // the National Register's key only
				}
				if cert.PublicKeyAlgorithm != want {
					t.Errorf("%s has a %v key", name, cert.PublicKeyAlgorithm)
				}
			}
			if !certs["auth"].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pki.AuthKey.Public()) {
				t.Error("auth certificate does not hold the card's key 82")
			}
		})
	}
}

// TestRRNSignatures verifies 4032 over 4031 and 4034 over the address
// without padding followed by 4032 (facts §8).
func TestRRNSignatures(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			c := newCardShared(t, p)
			id := readFile(t, c, "3F00DF014031", 0xFC)
			idSig := readFile(t, c, "3F00DF014032", 0xFC)
			addr := readFile(t, c, "3F00DF014033", 0xFC)
			addrSig := readFile(t, c, "3F00DF014034", 0xFC)
			bare := bytes.TrimRight(addr, "\x00")
			if len(bare) == len(addr) {
				t.Error("address file has no zero padding")
			}
			signedAddr := append(bytes.Clone(bare), idSig...)
			switch pub := c.PKI().RRN.PublicKey.(type) {
			case *rsa.PublicKey:
				if len(idSig) != 256 || len(addrSig) != 256 {
					t.Errorf("signature files of %d and %d bytes", len(idSig), len(addrSig))
				}
				h1, h2 := sha256.Sum256(id), sha256.Sum256(signedAddr)
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h1[:], idSig); err != nil {
					t.Errorf("identity: %v", err)
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h2[:], addrSig); err != nil {
					t.Errorf("address: %v", err)
				}
			case *ecdsa.PublicKey:
				size := map[Profile]int{ProfileECC: 0x68, ProfileRSAECRRN: 256}[p]
				for name, sig := range map[string][]byte{"identity": idSig, "address": addrSig} {
					if len(sig) != size || int(sig[1])+2 > len(sig) || !allZero(sig[int(sig[1])+2:]) {
						t.Errorf("%s signature file: % X", name, sig)
					}
				}
				h1, h2 := sha512.Sum384(id), sha512.Sum384(signedAddr)
				if !ecdsa.VerifyASN1(pub, h1[:], idSig[:int(idSig[1])+2]) {
					t.Error("identity signature does not verify")
				}
				if !ecdsa.VerifyASN1(pub, h2[:], addrSig[:int(addrSig[1])+2]) {
					t.Error("address signature does not verify")
				}
			default:
				t.Fatalf("RRN key %T", pub)
			}
		})
	}
}

func allZero(b []byte) bool { return bytes.Equal(b, make([]byte, len(b))) }

func TestPKIWriteLoad(t *testing.T) {
	for _, p := range profiles {
		dir := filepath.Join(t.TempDir(), "pki")
		if _, err := LoadPKI(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("LoadPKI of nothing: %v", err)
		}
		orig := testPKI[p]
		if err := orig.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "keys.pem")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("keys.pem: %v %v", fi.Mode(), err)
		}
		got, err := LoadPKI(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got.Profile != p || !got.Root.Equal(orig.Root) || !got.CA.Equal(orig.CA) || !got.RRN.Equal(orig.RRN) ||
			!got.AuthKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(orig.AuthKey.Public()) {
			t.Errorf("%v: loaded PKI differs", p)
		}
		// A card from the loaded PKI chains to the written root.
		c, err := New(Options{PKI: got})
		if err != nil {
			t.Fatal(err)
		}
		if c.Profile() != p {
			t.Errorf("profile from PKI: %v", c.Profile())
		}
		if err := c.AuthCert().CheckSignatureFrom(orig.CA); err != nil {
			t.Error(err)
		}
	}
	// Rewriting over a keys.pem someone left world-readable makes it private.
	if runtime.GOOS != "windows" {
		dir := t.TempDir()
		keys := filepath.Join(dir, "keys.pem")
		if err := os.WriteFile(keys, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := testPKI[ProfileECC].WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("rewritten keys.pem: %v %v", fi.Mode(), err)
		}
		if _, err := LoadPKI(dir); err != nil {
			t.Errorf("rewritten PKI: %v", err)
		}
	}
	// Keys of one hierarchy with the certificates of another are refused.
	dir := t.TempDir()
	if err := testPKI[ProfileECC].WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := testPKI[ProfileRSA].WriteDir(other); err != nil {
		t.Fatal(err)
	}
	keys, _ := os.ReadFile(filepath.Join(other, "keys.pem"))
	os.WriteFile(filepath.Join(dir, "keys.pem"), keys, 0o600)
	if _, err := LoadPKI(dir); !errors.Is(err, ErrPKIMismatch) {
		t.Errorf("mixed PKI: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	ecc, rsaPKI := testPKI[ProfileECC], testPKI[ProfileRSA]
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"PKI of the other profile", Options{Profile: ProfileRSA, PKI: ecc}, ErrPKIMismatch},
		{"incomplete PKI", Options{Profile: ProfileECC, PKI: &PKI{Profile: ProfileECC, Root: ecc.Root}}, ErrPKIMismatch},
		{"bad profile", Options{Profile: 7, PKI: ecc}, ErrUnknownProfile},
		{"short PIN", Options{PKI: ecc, PIN: "123"}, ErrInvalidOptions},
		{"long PIN", Options{PKI: ecc, PIN: "1234567890123"}, ErrInvalidOptions},
		{"letters in PIN", Options{PKI: ecc, PIN: "12a4"}, ErrInvalidOptions},
		{"short serial", Options{PKI: ecc, Serial: make([]byte, 15)}, ErrInvalidOptions},
		{"empty photo", Options{PKI: ecc, Photo: []byte{}}, ErrInvalidOptions},
		{"huge photo", Options{PKI: rsaPKI, Photo: make([]byte, 0x8000)}, ErrInvalidOptions},
		{"bad person", Options{PKI: ecc, Person: &Person{}}, ErrInvalidPerson},
	}
	for _, tt := range tests {
		if _, err := New(tt.opts); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	serial := bytes.Repeat([]byte{0xAB}, 16)
	photo := []byte{0xFF, 0xD8, 0xFF, 0xD9}
	c, err := New(Options{PKI: rsaPKI, Serial: serial, Photo: photo})
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile() != ProfileRSA || !bytes.Equal(c.Serial(), serial) {
		t.Errorf("profile %v serial % X", c.Profile(), c.Serial())
	}
	if got, _ := c.File(beid.FilePhoto); !bytes.Equal(got, photo) {
		t.Errorf("photo % X", got)
	}
	if c.BasicPublicKey() != nil {
		t.Error("RSA card with a basic key")
	}
	if _, ok := c.File(beid.File{Path: []uint16{0x3F00, 0xDF01}}); ok {
		t.Error("File returned a DF")
	}
	other, _ := New(Options{PKI: rsaPKI})
	if bytes.Equal(other.Serial(), c.Serial()) {
		t.Error("two cards with one serial")
	}
}

func TestPull(t *testing.T) {
	ctx := context.Background()
	c := newCardShared(t, ProfileECC)
	expect(t, c, verify1234, 0x9000)
	c.PullAfter(2)
	expect(t, c, "80 E4 00 00 1C", 0x9000)
	if _, err := c.Transmit(ctx, h(t, "80 E4 00 00 1C")); !errors.Is(err, ErrPulled) {
		t.Fatalf("second command: %v", err)
	}
	if !c.Pulled() {
		t.Error("Pulled() = false")
	}
	if _, err := c.Transmit(ctx, h(t, "80 E4 00 00 1C")); !errors.Is(err, ErrPulled) {
		t.Fatalf("after the pull: %v", err)
	}
	n := c.Commands()
	c.Reset() // a reset does not bring a card back
	if _, err := c.Transmit(ctx, h(t, "80 E4 00 00 1C")); !errors.Is(err, ErrPulled) {
		t.Fatalf("after Reset: %v", err)
	}
	c.Reinsert()
	expect(t, c, "00 20 00 01", 0x63C3) // the verified state is gone
	if c.Commands() != n+1 {
		t.Errorf("Commands = %d, want %d", c.Commands(), n+1)
	}
	// Pulled during a signature: the data waiting for GET RESPONSE is lost.
	run(t, c, []step{{verify1234, 0x9000}, {"00 22 41 B6 05 04 80 40 84 82", 0x9000}, {"00 2A 9E 9A 20 " + hexZeros(32), 0x6160}})
	c.PullAfter(1)
	if _, err := c.Transmit(ctx, h(t, "00 C0 00 00 60")); !errors.Is(err, ErrPulled) {
		t.Fatal(err)
	}
	c.Reinsert()
	expect(t, c, "00 C0 00 00 60", 0x6985)
	c.Pull()
	if _, err := c.Transmit(ctx, h(t, "80 E4 00 00 1C")); !errors.Is(err, ErrPulled) {
		t.Fatal(err)
	}
	c.Reinsert()
	c.PullAfter(0) // pulls at once
	if !c.Pulled() {
		t.Error("PullAfter(0) left the card in")
	}
	c.Reinsert()

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Transmit(cctx, h(t, "80 E4 00 00 1C")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func hexZeros(n int) string {
	return string(bytes.Repeat([]byte("00"), n))
}

func TestLog(t *testing.T) {
	c := newCardShared(t, ProfileRSA)
	run(t, c, []step{{verify1234, 0x9000}, {"00 A4 08 0C 04 DF 01 40 31", 0x9000}})
	log := c.Log()
	if len(log) != 2 || log[0].Command.INS != 0x20 || log[0].Command.Data != nil || log[0].SW != 0x9000 {
		t.Errorf("log %+v", log)
	}
	if !bytes.Equal(log[1].Command.Data, h(t, "DF014031")) {
		t.Errorf("select logged with data % X", log[1].Command.Data)
	}
	for range logSize + 10 {
		expect(t, c, "80 E4 00 00 1C", 0x9000)
	}
	if len(c.Log()) != logSize || c.Commands() != logSize+12 {
		t.Errorf("log holds %d, count %d", len(c.Log()), c.Commands())
	}
}

// TestConcurrentPull pulls and reinserts the card while another goroutine
// talks to it, as the vpcd connector and a test do; run with -race.
func TestConcurrentPull(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 500 {
			if _, err := c.Transmit(ctx, []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}); err != nil && !errors.Is(err, ErrPulled) {
				t.Error(err)
				return
			}
		}
	}()
	for range 100 {
		c.Pull()
		_ = c.TriesLeft() + c.Commands() + len(c.Log())
		c.Reinsert()
		c.PullAfter(3)
		c.Reset()
	}
	<-done
}
