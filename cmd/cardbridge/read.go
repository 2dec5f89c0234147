package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/pcsc"
)

// readReport is what `cardbridge read --json` prints.
type readReport struct {
	Reader       string                 `json:"reader"`
	Card         cardReport             `json:"card"`
	Identity     *beid.Identity         `json:"identity"`
	Address      *beid.Address          `json:"address"`
	Photo        photoReport            `json:"photo"`
	Certificates map[string]*certReport `json:"certificates"`
	Integrity    integrityReport        `json:"integrity"`
}

type cardReport struct {
	Type   string `json:"type"`
	Applet string `json:"applet"`
	Serial string `json:"serial"`
	ATR    string `json:"atr"`
}

type photoReport struct {
	Bytes int    `json:"bytes"`
	File  string `json:"file,omitempty"`
}

type certReport struct {
	Subject      string    `json:"subject"`
	CommonName   string    `json:"commonName"`
	Issuer       string    `json:"issuer"`
	SerialNumber string    `json:"serialNumber"`
	NotBefore    time.Time `json:"notBefore"`
	NotAfter     time.Time `json:"notAfter"`
	KeyAlgorithm string    `json:"keyAlgorithm"`
	SHA256       string    `json:"sha256"`
}

// integrityReport gives each check as "valid" or the reason it failed.
type integrityReport struct {
	Valid             bool   `json:"valid"`
	IdentitySignature string `json:"identitySignature"`
	AddressSignature  string `json:"addressSignature"`
	PhotoHash         string `json:"photoHash"`
	RRNCertificate    string `json:"rrnCertificate"`
	BasicKeyHash      string `json:"basicKeyHash"`
	// Genuine is the basic key challenge of applet 1.8 cards: "verified",
	// "unavailable" (applet 1.7 and older: no basic key), as the
	// protocol's integrity.genuine says them, or the reason it failed.
	Genuine string `json:"genuine"`
}

func runRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("read", stderr)
	reader := fs.String("reader", "", "reader `name` (default: the only reader holding a Belgian eID)")
	asJSON := fs.Bool("json", false, "print JSON")
	photo := fs.String("photo", "", "write the photo (JPEG) to `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		return explainPCSC(err)
	}
	defer pc.Close()
	name, err := chooseReader(ctx, pc, *reader)
	if err != nil {
		return err
	}
	contents, atr, err := readCard(ctx, pc, name)
	if err != nil {
		return err
	}
	report := newReadReport(name, atr, contents)
	if *photo != "" {
		if err := os.WriteFile(*photo, contents.Photo, 0o600); err != nil {
			return err
		}
		report.Photo.File = *photo
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return printReport(stdout, report)
}

// chooseReader returns want if given, else the one reader holding a card
// whose ATR is a Belgian eID's.
func chooseReader(ctx context.Context, pc *pcsc.Context, want string) (string, error) {
	if want != "" {
		return want, nil
	}
	states, err := pc.Readers(ctx)
	if err != nil {
		return "", explainPCSC(err)
	}
	var found []string
	for _, st := range states {
		if st.CardPresent && beid.RecognizeATR(st.ATR) != beid.GenerationUnknown {
			found = append(found, st.Name)
		}
	}
	switch len(found) {
	case 0:
		if len(states) == 0 {
			return "", explainPCSC(pcsc.ErrNoReaders)
		}
		return "", errors.New("no Belgian eID card in any reader (insert the card, or name the reader with --reader)")
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("several Belgian eID cards (%s): choose one with --reader", strings.Join(found, ", "))
}

// readCard reads the whole card inside one PC/SC transaction, so that no
// other application interleaves its commands with ours.
func readCard(ctx context.Context, pc *pcsc.Context, reader string) (*beid.Contents, []byte, error) {
	card, err := pc.Connect(ctx, reader)
	if err != nil {
		return nil, nil, explainPCSC(err)
	}
	defer card.Close()
	if err := card.Begin(ctx); err != nil {
		return nil, nil, err
	}
	defer card.End()
	contents, err := beid.New(card).ReadAll(ctx)
	if err != nil {
		return nil, nil, err
	}
	return contents, card.ATR(), nil
}

func newReadReport(reader string, atr []byte, c *beid.Contents) *readReport {
	r := &readReport{
		Reader: reader,
		Card: cardReport{
			Type:   beid.RecognizeATR(atr).String(),
			Applet: fmt.Sprintf("%d.%d", c.CardData.AppletVersion>>4, c.CardData.AppletVersion&0x0F),
			Serial: strings.ToUpper(hex.EncodeToString(c.CardData.Serial)),
			ATR:    strings.ToUpper(hex.EncodeToString(atr)),
		},
		Identity: c.Identity,
		Address:  c.Address,
		Photo:    photoReport{Bytes: len(c.Photo)},
		Certificates: map[string]*certReport{
			"authentication": describeCert(c.AuthCert),
			"signature":      describeCert(c.SignCert),
			"ca":             describeCert(c.CACert),
			"root":           describeCert(c.RootCert),
			"rrn":            describeCert(c.RRNCert),
		},
		Integrity: integrityReport{
			Valid:             c.Integrity.Valid(),
			IdentitySignature: checkResult(c.Integrity.IdentitySignature),
			AddressSignature:  checkResult(c.Integrity.AddressSignature),
			PhotoHash:         checkResult(c.Integrity.PhotoHash),
			RRNCertificate:    checkResult(c.Integrity.RRNCertificate),
			BasicKeyHash:      checkResult(c.Integrity.BasicKeyHash),
			Genuine:           genuineResult(c.Integrity.CardAuthentication),
		},
	}
	return r
}

// describeCert returns nil for a certificate the card does not carry (a
// child's card has no signature certificate).
func describeCert(c *x509.Certificate) *certReport {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	return &certReport{
		Subject:      c.Subject.String(),
		CommonName:   c.Subject.CommonName,
		Issuer:       c.Issuer.String(),
		SerialNumber: c.SerialNumber.Text(16),
		NotBefore:    c.NotBefore.UTC(),
		NotAfter:     c.NotAfter.UTC(),
		KeyAlgorithm: c.PublicKeyAlgorithm.String(),
		SHA256:       hex.EncodeToString(sum[:]),
	}
}

func checkResult(err error) string {
	if err == nil {
		return "valid"
	}
	return err.Error()
}

// genuineResult words the card authentication check for people.
func genuineResult(err error) string {
	switch {
	case err == nil:
		return "verified"
	case errors.Is(err, beid.ErrCardAuthUnavailable):
		return "unavailable"
	}
	return err.Error()
}

func printReport(w io.Writer, r *readReport) error {
	id, addr := r.Identity, r.Address
	lines := []struct{ k, v string }{
		{"Reader", r.Reader},
		{"Card", fmt.Sprintf("%s, serial %s", r.Card.Type, r.Card.Serial)},
		{"Name", strings.TrimSpace(id.GivenNames + " " + id.ThirdNameInitial + " " + id.Surname)},
		{"National number", id.NationalNumber},
		{"Born", strings.TrimSpace(id.BirthDate.String() + " " + id.BirthPlace)},
		{"Sex", id.Sex},
		{"Nationality", id.Nationality},
		{"Card number", id.CardNumber},
		{"Valid", id.ValidFrom.String() + " to " + id.ValidUntil.String()},
		{"Document", beid.DocumentTypeName(id.DocumentType)},
		{"Issued by", id.IssuingMunicipality},
		{"Address", fmt.Sprintf("%s, %s %s", addr.Street, addr.ZipCode, addr.Municipality)},
		{"Photo", fmt.Sprintf("%d bytes %s", r.Photo.Bytes, r.Photo.File)},
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%-20s %s\n", l.k+":", l.v); err != nil {
			return err
		}
	}
	if odd := append(id.InvalidFields(), addr.InvalidFields()...); len(odd) > 0 {
		// Kept as far as they read; the rest of the card is fine.
		fmt.Fprintf(w, "%-20s %s\n", "Odd fields:", strings.Join(odd, ", "))
	}
	for _, k := range []string{"authentication", "signature", "ca", "root", "rrn"} {
		c := r.Certificates[k]
		if c == nil {
			fmt.Fprintf(w, "%-20s (none)\n", k+" cert:")
			continue
		}
		fmt.Fprintf(w, "%-20s %s (until %s)\n", k+" cert:", c.CommonName, c.NotAfter.Format(time.DateOnly))
	}
	verdict := "VALID"
	if !r.Integrity.Valid {
		verdict = fmt.Sprintf("INVALID (identity: %s; address: %s; photo: %s; RRN certificate: %s; basic key: %s)",
			r.Integrity.IdentitySignature, r.Integrity.AddressSignature, r.Integrity.PhotoHash,
			r.Integrity.RRNCertificate, r.Integrity.BasicKeyHash)
	}
	if _, err := fmt.Fprintf(w, "%-20s %s\n", "Integrity:", verdict); err != nil {
		return err
	}
	genuine := r.Integrity.Genuine
	switch genuine {
	case "verified":
		genuine = "VERIFIED (the card signed a fresh challenge with the basic key its signed identity file names)"
	case "unavailable":
		genuine = "NOT AVAILABLE (applet 1.7 and older cards have no basic key to prove it with)"
	default:
		genuine = "FAILED (" + genuine + ")"
	}
	_, err := fmt.Fprintf(w, "%-20s %s\n", "Genuine card:", genuine)
	return err
}
