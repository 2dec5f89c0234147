package beid_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// One PKI per profile for the whole test binary: RSA key generation is the
// slow part of making a card.
var pkis = map[sim.Profile]func() (*sim.PKI, error){
	sim.ProfileRSA:      sync.OnceValues(func() (*sim.PKI, error) { return sim.NewPKI(sim.ProfileRSA) }),
	sim.ProfileECC:      sync.OnceValues(func() (*sim.PKI, error) { return sim.NewPKI(sim.ProfileECC) }),
	sim.ProfileRSAECRRN: sync.OnceValues(func() (*sim.PKI, error) { return sim.NewPKI(sim.ProfileRSAECRRN) }),
}

var profiles = sim.Profiles

func newSimCard(tb testing.TB, p sim.Profile) *sim.Card {
	tb.Helper()
	pki, err := pkis[p]()
	if err != nil {
		tb.Fatal(err)
	}
	card, err := sim.New(sim.Options{Profile: p, PIN: "1234", PKI: pki})
	if err != nil {
		tb.Fatal(err)
	}
	return card
}

// counter counts the APDUs that reach the card.
type counter struct {
	t apdu.Transmitter
	n int
}

func (c *counter) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.n++
	return c.t.Transmit(ctx, cmd)
}

func TestSimReadAll(t *testing.T) {
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			card := newSimCard(t, p)
			got, err := beid.New(card).ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Integrity.Valid() {
				t.Errorf("integrity: %+v", got.Integrity)
			}
			person := card.Person()
			if !reflect.DeepEqual(*got.Identity, person.Identity) {
				t.Errorf("identity:\n got %+v\nwant %+v", *got.Identity, person.Identity)
			}
			if !reflect.DeepEqual(*got.Address, person.Address) {
				t.Errorf("address:\n got %+v\nwant %+v", *got.Address, person.Address)
			}
			if got.CardData.AppletVersion != p.AppletVersion() || !bytes.Equal(got.CardData.Serial, card.Serial()) {
				t.Errorf("card data %+v", got.CardData)
			}
			if !bytes.Equal(got.Identity.ChipNumber, got.CardData.Serial) {
				t.Error("chip number differs from the card serial")
			}
			for _, f := range []struct {
				file beid.File
				got  []byte
			}{
				{beid.FileIdentity, got.IdentityFile},
				{beid.FileIdentitySignature, got.IdentitySignature},
				{beid.FileAddress, got.AddressFile},
				{beid.FileAddressSignature, got.AddressSignature},
				{beid.FilePhoto, got.Photo},
			} {
				if want, _ := card.File(f.file); !bytes.Equal(f.got, want) {
					t.Errorf("%s: read %d bytes, card has %d", f.file.Name, len(f.got), len(want))
				}
			}
			pki := card.PKI()
			if !got.AuthCert.Equal(card.AuthCert()) || !got.SignCert.Equal(card.SignCert()) ||
				!got.CACert.Equal(pki.CA) || !got.RootCert.Equal(pki.Root) || !got.RRNCert.Equal(pki.RRN) {
				t.Error("certificates differ from the card's")
			}
			inter := x509.NewCertPool()
			inter.AddCert(got.CACert)
			for _, c := range []*x509.Certificate{got.AuthCert, got.SignCert} {
				if _, err := c.Verify(x509.VerifyOptions{Roots: pki.Roots(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("%s: %v", c.Subject, err)
				}
			}
			if p == sim.ProfileECC {
				key, err := x509.ParsePKIXPublicKey(got.BasicPublicKey)
				if err != nil || !card.BasicPublicKey().Equal(key) {
					t.Errorf("basic public key: %v", err)
				}
			} else if got.BasicPublicKey != nil {
				t.Error("basic public key read on an applet 1.7 card")
			}
		})
	}
}

// TestSimReadAllAPDUs checks that a full read sends the fewest commands the
// card allows: GET CARD DATA, then per file one SELECT and the reads of
// MinReadAPDUs, or MinCertificateReadAPDUs for a certificate.
func TestSimReadAllAPDUs(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			card := newSimCard(t, p)
			cnt := &counter{t: card}
			if _, err := beid.New(cnt).ReadAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if want := minFullRead(t, card); cnt.n != want {
				t.Errorf("full read took %d APDUs, the minimum is %d", cnt.n, want)
			}
		})
	}
}

// minFullRead is the least number of APDUs a full read of card can take.
func minFullRead(tb testing.TB, card *sim.Card) int {
	tb.Helper()
	n := 1 // GET CARD DATA
	files := []beid.File{beid.FileIdentity, beid.FileIdentitySignature, beid.FileAddress, beid.FileAddressSignature, beid.FilePhoto}
	if card.Profile() == sim.ProfileECC {
		files = append(files, beid.FileBasicPublicKey)
		n += 2 // the basic key challenge: INTERNAL AUTHENTICATE, GET RESPONSE
	}
	for _, f := range files {
		b, ok := card.File(f)
		if !ok {
			tb.Fatalf("card has no %s", f.Name)
		}
		n += 1 + beid.MinReadAPDUs(len(b))
	}
	pki := card.PKI()
	for _, c := range []struct {
		f    beid.File
		cert *x509.Certificate
	}{
		{beid.FileAuthCert, card.AuthCert()},
		{beid.FileSignCert, card.SignCert()},
		{beid.FileCACert, pki.CA},
		{beid.FileRootCert, pki.Root},
		{beid.FileRRNCert, pki.RRN},
	} {
		b, ok := card.File(c.f)
		if !ok {
			tb.Fatalf("card has no %s", c.f.Name)
		}
		n += 1 + beid.MinCertificateReadAPDUs(len(c.cert.Raw), len(b))
	}
	return n
}

func BenchmarkFullRead(b *testing.B) {
	for _, p := range profiles {
		b.Run(p.String(), func(b *testing.B) {
			card := newSimCard(b, p)
			want := minFullRead(b, card)
			cnt := &counter{t: card}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				before := cnt.n
				if _, err := beid.New(cnt).ReadAll(ctx); err != nil {
					b.Fatal(err)
				}
				if got := cnt.n - before; got != want {
					b.Fatalf("full read took %d APDUs, the minimum is %d", got, want)
				}
			}
			b.ReportMetric(float64(cnt.n)/float64(b.N), "apdus/read")
			b.ReportMetric(float64(want), "min-apdus/read")
		})
	}
}

func TestSimIntegrityDetectsTampering(t *testing.T) {
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			card := newSimCard(t, p)
			orig, err := beid.New(card).ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			flip := func(b []byte, i int) []byte {
				b = bytes.Clone(b)
				b[i] ^= 0x01
				return b
			}
			other, err := sim.NewPKI(sim.ProfileECC) // a root of the wrong hierarchy
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name   string
				change func(c *beid.Contents)
				check  func(in beid.Integrity) error
			}{
				{"photo", func(c *beid.Contents) { c.Photo = flip(c.Photo, 100) },
					func(in beid.Integrity) error { return in.PhotoHash }},
				{"identity", func(c *beid.Contents) { c.IdentityFile = flip(c.IdentityFile, 5); c.Identity = nil },
					func(in beid.Integrity) error { return in.IdentitySignature }},
				{"identity signature", func(c *beid.Contents) { c.IdentitySignature = flip(c.IdentitySignature, 20) },
					func(in beid.Integrity) error { return in.IdentitySignature }},
				{"address", func(c *beid.Contents) { c.AddressFile = flip(c.AddressFile, 3) },
					func(in beid.Integrity) error { return in.AddressSignature }},
				{"address signature", func(c *beid.Contents) { c.AddressSignature = flip(c.AddressSignature, 10) },
					func(in beid.Integrity) error { return in.AddressSignature }},
				{"root", func(c *beid.Contents) { c.RootCert = other.Root },
					func(in beid.Integrity) error { return in.RRNCertificate }},
				{"no RRN certificate", func(c *beid.Contents) { c.RRNCert = nil },
					func(in beid.Integrity) error { return errors.Join(in.IdentitySignature, in.AddressSignature) }},
			} {
				c := *orig
				tc.change(&c)
				in := beid.VerifyIntegrity(&c)
				if err := tc.check(in); !errors.Is(err, beid.ErrIntegrity) {
					t.Errorf("%s: %v, want ErrIntegrity", tc.name, err)
				}
				if in.Valid() {
					t.Errorf("%s: Valid() after tampering", tc.name)
				}
			}
			if p == sim.ProfileECC {
				c := *orig
				c.BasicPublicKey = flip(c.BasicPublicKey, 40)
				if in := beid.VerifyIntegrity(&c); !errors.Is(in.BasicKeyHash, beid.ErrIntegrity) {
					t.Errorf("basic key: %v, want ErrIntegrity", in.BasicKeyHash)
				}
			}
			// More zero padding after the address changes nothing.
			c := *orig
			c.AddressFile = append(bytes.Clone(c.AddressFile), 0, 0, 0, 0)
			if in := beid.VerifyIntegrity(&c); !in.Valid() {
				t.Errorf("padded address: %+v", in)
			}
		})
	}
}

func TestSimPIN(t *testing.T) {
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			card := newSimCard(t, p)
			c := beid.New(card)
			if n, err := c.PINTriesLeft(ctx); n != 3 || err != nil {
				t.Errorf("PINTriesLeft = %d, %v; want 3", n, err)
			}
			// A wrong PIN costs a try; the right one restores them all.
			if err := c.VerifyPIN(ctx, []byte("0000")); !errors.Is(err, beid.ErrWrongPIN) {
				t.Fatalf("wrong PIN: %v", err)
			}
			if n, err := c.PINTriesLeft(ctx); n != 2 || err != nil {
				t.Errorf("PINTriesLeft = %d, %v; want 2", n, err)
			}
			if err := c.VerifyPIN(ctx, []byte("1234")); err != nil {
				t.Fatal(err)
			}
			if n, err := c.PINTriesLeft(ctx); n != 3 || err != nil {
				t.Errorf("PINTriesLeft after the right PIN = %d, %v; want 3", n, err)
			}

			// Three wrong PINs block it, and then even the right one fails.
			for _, want := range []int{2, 1, 0} {
				err := c.VerifyPIN(ctx, []byte("9999"))
				var pe *beid.PINError
				if !errors.As(err, &pe) || pe.TriesLeft != want {
					t.Fatalf("wrong PIN: %v, want %d tries left", err, want)
				}
				if n, err := c.PINTriesLeft(ctx); want > 0 && (n != want || err != nil) {
					t.Errorf("PINTriesLeft = %d, %v; want %d", n, err, want)
				}
			}
			if _, err := c.PINTriesLeft(ctx); !errors.Is(err, beid.ErrPINBlocked) {
				t.Errorf("PINTriesLeft when blocked: %v, want ErrPINBlocked", err)
			}
			if err := c.VerifyPIN(ctx, []byte("1234")); !errors.Is(err, beid.ErrPINBlocked) {
				t.Errorf("right PIN when blocked: %v, want ErrPINBlocked", err)
			}
			if card.TriesLeft() != 0 {
				t.Errorf("card has %d tries left", card.TriesLeft())
			}
		})
	}
}

func TestSimMalformedPINCostsNothing(t *testing.T) {
	card := newSimCard(t, sim.ProfileECC)
	c := beid.New(card)
	before := card.Commands()
	for _, pin := range []string{"12", "12345678901234", "12a4", ""} {
		if err := c.VerifyPIN(context.Background(), []byte(pin)); !errors.Is(err, beid.ErrInvalidPIN) {
			t.Errorf("VerifyPIN(%q) = %v, want ErrInvalidPIN", pin, err)
		}
	}
	if card.Commands() != before || card.TriesLeft() != 3 {
		t.Errorf("malformed PINs reached the card: %d commands, %d tries", card.Commands()-before, card.TriesLeft())
	}
}

// hideFile makes the card answer 6A82 to a SELECT of one path, the way a
// card without that file does.
type hideFile struct {
	t    apdu.Transmitter
	path []byte // SELECT data
}

func (h *hideFile) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) > 5 && cmd[1] == apdu.InsSelect && bytes.Equal(cmd[5:], h.path) {
		return []byte{0x6A, 0x82}, nil
	}
	return h.t.Transmit(ctx, cmd)
}

func TestSimReadAllWithoutSignatureCertificate(t *testing.T) {
	// Children's cards carry no non-repudiation certificate.
	card := newSimCard(t, sim.ProfileECC)
	got, err := beid.New(&hideFile{t: card, path: []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x39}}).ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.SignCert != nil || got.AuthCert == nil || !got.Integrity.Valid() {
		t.Errorf("sign cert %v, auth cert %v, integrity %+v", got.SignCert, got.AuthCert, got.Integrity)
	}
	// A missing identity file is an error, not a partial result.
	_, err = beid.New(&hideFile{t: card, path: []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31}}).ReadAll(context.Background())
	if !errors.Is(err, apdu.ErrFileNotFound) {
		t.Errorf("no identity file: %v, want ErrFileNotFound", err)
	}
}

func TestReadAllNotBelpic(t *testing.T) {
	// A card that knows neither GET CARD DATA nor the BELPIC applet.
	other := apdu.TransmitterFunc(func(context.Context, []byte) ([]byte, error) { return []byte{0x6D, 0x00}, nil })
	if _, err := beid.New(other).ReadAll(context.Background()); !errors.Is(err, beid.ErrNotBelpic) {
		t.Errorf("ReadAll: %v, want ErrNotBelpic", err)
	}
}

func TestSimPulledCard(t *testing.T) {
	card := newSimCard(t, sim.ProfileRSA)
	card.PullAfter(10)
	_, err := beid.New(card).ReadAll(context.Background())
	if !errors.Is(err, sim.ErrPulled) {
		t.Errorf("card pulled while reading: %v, want the transport error", err)
	}
}

func TestSimContextCancelled(t *testing.T) {
	card := newSimCard(t, sim.ProfileECC)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := beid.New(card)
	if _, err := c.ReadAll(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll: %v, want context.Canceled", err)
	}
	if err := c.VerifyPIN(ctx, []byte("1234")); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyPIN: %v, want context.Canceled", err)
	}
	if card.Commands() != 0 {
		t.Errorf("%d commands sent with a cancelled context", card.Commands())
	}
}

// TestSimRealCardLayouts is S8 and D5 end to end: cards written the way
// real ones are (birth dates as in commons-eid's real identity files, the
// street padded with 25 spaces as in its address-fcorneli.tlv) read back
// with the dates parsed and the street trimmed, and their RRN signatures,
// made over the padded bytes, still verify.
func TestSimRealCardLayouts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		raw  string
		want beid.Date
	}{
		{"22.DEZ. 1997", beid.Date{Year: 1997, Month: time.December, Day: 22}},
		{"13.AUG. 1996", beid.Date{Year: 1996, Month: time.August, Day: 13}},
		{"26 AVR  1975", beid.Date{Year: 1975, Month: time.April, Day: 26}},
		{"29 SEPT 1979", beid.Date{Year: 1979, Month: time.September, Day: 29}},
		{"21 DEC  1981", beid.Date{Year: 1981, Month: time.December, Day: 21}},
		{"1 JAN 1971", beid.Date{Year: 1971, Month: time.January, Day: 1}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			pki, err := pkis[sim.ProfileECC]()
			if err != nil {
				t.Fatal(err)
			}
			person := sim.DefaultPerson()
			person.Identity.BirthDateRaw = tc.raw
			person.Identity.BirthDate = tc.want
			person.Address.Street = "Elfbunderslaan 76" + strings.Repeat(" ", 25)
			card, err := sim.New(sim.Options{PKI: pki, Person: person})
			if err != nil {
				t.Fatal(err)
			}
			got, err := beid.New(card).ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Identity.BirthDate != tc.want || got.Identity.BirthDateRaw != tc.raw || len(got.Identity.FieldErrors) != 0 {
				t.Errorf("birth date %q = %v (%v), want %v", got.Identity.BirthDateRaw, got.Identity.BirthDate, got.Identity.FieldErrors, tc.want)
			}
			if got.Address.Street != "Elfbunderslaan 76" {
				t.Errorf("street %q, want it trimmed", got.Address.Street)
			}
			if !bytes.Contains(got.AddressFile, []byte("76"+strings.Repeat(" ", 25))) {
				t.Error("the address file lost its padding")
			}
			if !got.Integrity.Valid() {
				t.Errorf("integrity: %+v", got.Integrity)
			}
		})
	}
}
