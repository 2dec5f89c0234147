package beid

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
)

func TestMinReadAPDUs(t *testing.T) {
	for _, tc := range []struct{ size, want int }{
		{0, 1},   // 6B00 at once
		{1, 2},   // 6C01, then Le=01
		{255, 2}, // 6CFF, then Le=FF
		{256, 2}, // 256 bytes, then 6B00
		{257, 3}, // 256, 6C01, Le=01
		{512, 3}, // 256, 256, 6B00
		{600, 4}, // 256, 256, 6C58, Le=58
		{3064, 13},
	} {
		if got := MinReadAPDUs(tc.size); got != tc.want {
			t.Errorf("MinReadAPDUs(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

// TestReadFileSequence pins the exact commands for a 600-byte file: Le=00
// chunks, and the 6Cxx answer re-asked with the exact length.
func TestReadFileSequence(t *testing.T) {
	data := pattern(600)
	hexOf := func(b []byte) string { return bytes2hex(b) }
	s := newScript(t,
		step{"00A4080C06 3F00DF014035", "9000"},
		step{"00B0000000", hexOf(data[:256]) + "9000"},
		step{"00B0010000", hexOf(data[256:512]) + "9000"},
		step{"00B0020000", "6C58"},
		step{"00B0020058", hexOf(data[512:]) + "9000"},
	)
	got, err := New(s).ReadFile(context.Background(), FilePhoto)
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, not the file", len(got))
	}
}

func TestReadFileSizes(t *testing.T) {
	for _, short := range []bool{false, true} {
		for _, size := range []int{0, 1, 100, 255, 256, 257, 511, 512, 513, 600, 3064, 4096} {
			data := pattern(size)
			card := &fileCard{files: map[string][]byte{"3F00DF014035": data}, shortReads: short}
			got, err := New(card).ReadFile(context.Background(), FilePhoto)
			if err != nil {
				t.Fatalf("size %d short=%v: %v", size, short, err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("size %d short=%v: content differs", size, short)
			}
			want := MinReadAPDUs(size)
			if short && size%256 != 0 {
				want-- // the short last chunk needs no 6Cxx round
			}
			if card.reads != want {
				t.Errorf("size %d short=%v: %d READ BINARY, want %d", size, short, card.reads, want)
			}
			if card.cmds != card.reads+1 {
				t.Errorf("size %d: %d commands, want one SELECT and %d reads", size, card.cmds, card.reads)
			}
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	ctx := context.Background()
	s := newScript(t, step{"00A4080C06 3F00DF014031", "6A82"})
	_, err := New(s).ReadFile(ctx, FileIdentity)
	if !errors.Is(err, apdu.ErrFileNotFound) {
		t.Errorf("missing file: %v, want ErrFileNotFound", err)
	}
	s = newScript(t, step{"00A4080C06 3F00DF014031", "9000"}, step{"00B0000000", "6982"})
	_, err = New(s).ReadFile(ctx, FileIdentity)
	if !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Errorf("refused read: %v, want ErrSecurityStatus", err)
	}
	// More data than asked for is a broken card, not a file.
	s = newScript(t, step{"00A4080C06 3F00DF014031", "9000"}, step{"00B0000000", bytes2hex(pattern(300)) + "9000"})
	_, err = New(s).ReadFile(ctx, FileIdentity)
	if !errors.Is(err, apdu.ErrProtocol) {
		t.Errorf("overlong answer: %v, want ErrProtocol", err)
	}
	if _, err := New(s).ReadFile(ctx, File{Name: "nothing"}); err == nil {
		t.Error("empty path accepted")
	}
}

func testCertificate(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Unix(1<<32, 0),
		// A long name stretches the certificate over several chunks.
		DNSNames: []string{string(bytes.Repeat([]byte("a"), 60)) + ".example", string(bytes.Repeat([]byte("b"), 60)) + ".example",
			string(bytes.Repeat([]byte("c"), 60)) + ".example", string(bytes.Repeat([]byte("d"), 60)) + ".example",
			string(bytes.Repeat([]byte("e"), 60)) + ".example", string(bytes.Repeat([]byte("f"), 60)) + ".example"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCertificateSkipsPadding(t *testing.T) {
	cert := testCertificate(t, "test")
	if len(cert.Raw) <= 256 || len(cert.Raw)%256 == 0 {
		t.Fatalf("test certificate of %d bytes does not exercise a partial last chunk", len(cert.Raw))
	}
	for _, pad := range []int{0, 50, 1100} {
		file := append(append([]byte(nil), cert.Raw...), make([]byte, pad)...)
		card := &fileCard{files: map[string][]byte{"3F00DF00503B": file}}
		got, err := New(card).Certificate(context.Background(), FileRootCert)
		if err != nil {
			t.Fatalf("padding %d: %v", pad, err)
		}
		if !got.Equal(cert) {
			t.Errorf("padding %d: another certificate came back", pad)
		}
		if want := MinCertificateReadAPDUs(len(cert.Raw), len(file)); card.reads != want {
			t.Errorf("padding %d: %d READ BINARY, want %d", pad, card.reads, want)
		}
		if want := (len(cert.Raw) + 255) / 256; card.reads != want {
			t.Errorf("padding %d: %d READ BINARY, want ceil(%d/256) = %d", pad, card.reads, len(cert.Raw), want)
		}
	}
}

func TestCertificateExactSequence(t *testing.T) {
	// A 0x0213-byte certificate: one full chunk, then exactly the rest.
	der := append([]byte{0x30, 0x82, 0x02, 0x0F}, pattern(0x20F)...)
	file := append(der, make([]byte, 50)...)
	s := newScript(t,
		step{"00A4080C06 3F00DF005038", "9000"},
		step{"00B0000000", bytes2hex(file[:256]) + "9000"},
		step{"00B0010000", bytes2hex(file[256:512]) + "9000"},
		step{"00B0020013", bytes2hex(file[512:0x213]) + "9000"},
	)
	got, err := New(s).readCertificate(context.Background(), FileAuthCert)
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if !bytes.Equal(got, der) {
		t.Error("certificate bytes differ")
	}
}

func TestCertificateAbsentOrBroken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		file []byte
		want error
	}{
		{"all zeros", make([]byte, 1300), ErrNoCertificate},
		{"empty", nil, ErrNoCertificate},
		{"not DER", append([]byte{0x31, 0x82, 0x01, 0x00}, make([]byte, 600)...), ErrMalformed},
		{"truncated", append([]byte{0x30, 0x82, 0x04, 0x00}, pattern(400)...), ErrMalformed},
		{"garbage DER", append([]byte{0x30, 0x82, 0x01, 0x00}, pattern(0x100)...), ErrMalformed},
	} {
		card := &fileCard{files: map[string][]byte{"3F00DF005039": tc.file}}
		_, err := New(card).Certificate(ctx, FileSignCert)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestDERLength(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"3010", 0x12, true},
		{"3081F0", 0xF3, true},
		{"30820400", 0x404, true},
		{"3083010000", 0, false},
		{"3080", 0, false},
		{"3182", 0, false},
		{"30", 0, false},
		{"308204", 0, false},
	} {
		got, err := derLength(unhex(t, tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("derLength(%s) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func bytes2hex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
