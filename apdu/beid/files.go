package beid

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/apdu"
)

// chunk is the most a short READ BINARY returns: Le=00 asks for 256 bytes.
const chunk = apdu.MaxShortLe

// maxOffset is the last offset READ BINARY can address: bit 8 of P1 must
// stay clear, or the card takes it as a short file identifier.
const maxOffset = 0x7FFF

// MinReadAPDUs returns the fewest READ BINARY commands that read a whole
// transparent file of size bytes whose size the reader does not know in
// advance, as ReadFile does. Every full 256-byte chunk takes one command.
// The end costs one more: a 6B00 past the end when size is a multiple of
// 256, or for a partial last chunk the 6Cxx answer to Le=00 whose exact
// length must then be asked again. That is ceil(size/256)+1 for a card that
// answers 6Cxx as BELPIC does, one less for a partial last chunk on a card
// that returns short data instead.
func MinReadAPDUs(size int) int {
	if size <= 0 {
		return 1
	}
	return size/chunk + 1 + boolInt(size%chunk != 0)
}

// MinCertificateReadAPDUs returns the READ BINARY commands Certificate
// spends on a certificate of derLen bytes (the DER length, without the
// file's zero padding) in a file of fileSize bytes. The first 256-byte chunk
// reveals the DER length, after which the rest is asked with exact lengths,
// so neither the padding nor an end-of-file probe costs a command.
func MinCertificateReadAPDUs(derLen, fileSize int) int {
	if fileSize < chunk {
		return 2 // 6Cxx, then the exact length
	}
	if derLen <= chunk {
		return 1
	}
	return (derLen + chunk - 1) / chunk
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// selectFile selects f by its absolute path, MF included, the form every
// middleware uses on real cards (SELECT FILE P1=08, no FCI).
func (c *Card) selectFile(ctx context.Context, f File) error {
	if len(f.Path) == 0 {
		return fmt.Errorf("beid: select %s: empty path", f.Name)
	}
	path := make([]byte, 0, 2*len(f.Path))
	for _, id := range f.Path {
		path = append(path, byte(id>>8), byte(id))
	}
	cmd := apdu.Command{CLA: 0x00, INS: apdu.InsSelect, P1: 0x08, P2: 0x0C, Data: path}
	if _, err := c.x.Run(ctx, c.t, cmd); err != nil {
		return fmt.Errorf("beid: select %s: %w", f.Name, err)
	}
	return nil
}

// readBinary asks for le bytes at offset. eof reports a 6B00 answer, which
// the card gives for an offset at or beyond the end of the file. A 6Cxx
// answer is retried with the exact length by apdu.Exchange.
func (c *Card) readBinary(ctx context.Context, offset, le int) (data []byte, eof bool, err error) {
	if offset > maxOffset {
		return nil, false, fmt.Errorf("%w: file longer than %d bytes", ErrMalformed, maxOffset+1)
	}
	cmd := apdu.Command{CLA: 0x00, INS: apdu.InsReadBinary, P1: byte(offset >> 8), P2: byte(offset), Le: le}
	resp, err := c.x.Exchange(ctx, c.t, cmd)
	if err != nil {
		return nil, false, err
	}
	if resp.SW == apdu.SWWrongP1P2 {
		return nil, true, nil
	}
	if err := resp.Err(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", cmd, err)
	}
	if len(resp.Data) > le {
		return nil, false, fmt.Errorf("%w: READ BINARY returned %d bytes for Le %d", apdu.ErrProtocol, len(resp.Data), le)
	}
	return resp.Data, false, nil
}

// ReadFile selects f and reads it whole in the fewest READ BINARY commands
// (see MinReadAPDUs): 256-byte chunks until a chunk comes back short or the
// card answers 6B00 past the end.
func (c *Card) ReadFile(ctx context.Context, f File) ([]byte, error) {
	if err := c.selectFile(ctx, f); err != nil {
		return nil, err
	}
	out, err := c.readSelected(ctx)
	if err != nil {
		return nil, fmt.Errorf("beid: read %s: %w", f.Name, err)
	}
	return out, nil
}

func (c *Card) readSelected(ctx context.Context) ([]byte, error) {
	var out []byte
	for {
		data, eof, err := c.readBinary(ctx, len(out), chunk)
		if err != nil {
			return nil, err
		}
		if eof {
			// 6B00 at offset 0 can only mean an empty file: P1-P2 of
			// zero cannot be wrong otherwise.
			return out, nil
		}
		out = append(out, data...)
		if len(data) < chunk {
			return out, nil
		}
	}
}

// Certificate reads one of the certificate files, without its zero padding.
// It reads the first chunk, takes the certificate's length from its DER
// header and asks for exactly the rest, so the padding (50 bytes on applet
// 1.7, 1100 on 1.8) is never transferred. A file holding no certificate
// (all zeros) gives ErrNoCertificate.
func (c *Card) Certificate(ctx context.Context, f File) (*x509.Certificate, error) {
	der, err := c.readCertificate(ctx, f)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, f.Name, err)
	}
	return cert, nil
}

func (c *Card) readCertificate(ctx context.Context, f File) ([]byte, error) {
	if err := c.selectFile(ctx, f); err != nil {
		return nil, err
	}
	first, eof, err := c.readBinary(ctx, 0, chunk)
	if err != nil {
		return nil, fmt.Errorf("beid: read %s: %w", f.Name, err)
	}
	if eof || allZero(first) {
		return nil, fmt.Errorf("beid: %s: %w", f.Name, ErrNoCertificate)
	}
	total, err := derLength(first)
	if err != nil {
		return nil, fmt.Errorf("beid: %s: %w", f.Name, err)
	}
	if total <= len(first) {
		return append([]byte(nil), first[:total]...), nil
	}
	if len(first) < chunk {
		return nil, fmt.Errorf("%w: %s: file ends inside the certificate", ErrMalformed, f.Name)
	}
	der := make([]byte, len(first), total)
	copy(der, first)
	for len(der) < total {
		want := min(chunk, total-len(der))
		data, eof, err := c.readBinary(ctx, len(der), want)
		if err != nil {
			return nil, fmt.Errorf("beid: read %s: %w", f.Name, err)
		}
		if eof || len(data) < want {
			return nil, fmt.Errorf("%w: %s: file ends inside the certificate", ErrMalformed, f.Name)
		}
		der = append(der, data...)
	}
	return der, nil
}

// derLength returns the length of the DER SEQUENCE at the start of b,
// header included.
func derLength(b []byte) (int, error) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, fmt.Errorf("%w: no DER SEQUENCE", ErrMalformed)
	}
	if b[1] < 0x80 {
		return 2 + int(b[1]), nil
	}
	n := int(b[1] & 0x7F)
	if n == 0 || n > 2 || len(b) < 2+n {
		// Two length bytes cover 64 KiB, far more than the file can hold.
		return 0, fmt.Errorf("%w: unusable DER length", ErrMalformed)
	}
	l := 0
	for _, x := range b[2 : 2+n] {
		l = l<<8 | int(x)
	}
	return 2 + n + l, nil
}

// Identity reads and parses the identity file; raw is the file as read.
func (c *Card) Identity(ctx context.Context) (id *Identity, raw []byte, err error) {
	raw, err = c.ReadFile(ctx, FileIdentity)
	if err != nil {
		return nil, nil, err
	}
	id, err = ParseIdentity(raw)
	if err != nil {
		return nil, raw, err
	}
	return id, raw, nil
}

// Address reads and parses the address file; raw is the file as read.
func (c *Card) Address(ctx context.Context) (addr *Address, raw []byte, err error) {
	raw, err = c.ReadFile(ctx, FileAddress)
	if err != nil {
		return nil, nil, err
	}
	addr, err = ParseAddress(raw)
	if err != nil {
		return nil, raw, err
	}
	return addr, raw, nil
}

// Photo reads the JPEG photo.
func (c *Card) Photo(ctx context.Context) ([]byte, error) { return c.ReadFile(ctx, FilePhoto) }

// ReadAll reads every public file, has an applet 1.8 card sign a basic key
// challenge (ChallengeBasicKey), and checks their integrity. It fails with
// ErrNotBelpic when the card does not answer GET CARD DATA like a BELPIC
// applet. A certificate the card does not carry (a child's signature
// certificate, say) is left nil; the verdict of the integrity checks is in
// Contents.Integrity, not in the error.
func (c *Card) ReadAll(ctx context.Context) (*Contents, error) {
	cd, err := c.CardData(ctx)
	if err != nil {
		return nil, err
	}
	out := &Contents{CardData: cd}
	if out.Identity, out.IdentityFile, err = c.Identity(ctx); err != nil {
		return nil, err
	}
	if out.IdentitySignature, err = c.ReadFile(ctx, FileIdentitySignature); err != nil {
		return nil, err
	}
	if out.Address, out.AddressFile, err = c.Address(ctx); err != nil {
		return nil, err
	}
	if out.AddressSignature, err = c.ReadFile(ctx, FileAddressSignature); err != nil {
		return nil, err
	}
	if out.Photo, err = c.Photo(ctx); err != nil {
		return nil, err
	}
	for _, cf := range []struct {
		f   File
		dst **x509.Certificate
	}{
		{FileAuthCert, &out.AuthCert},
		{FileSignCert, &out.SignCert},
		{FileCACert, &out.CACert},
		{FileRootCert, &out.RootCert},
		{FileRRNCert, &out.RRNCert},
	} {
		cert, err := c.Certificate(ctx, cf.f)
		if err != nil && !errors.Is(err, ErrNoCertificate) && !errors.Is(err, apdu.ErrFileNotFound) {
			return nil, err
		}
		*cf.dst = cert
	}
	var challengeErr error
	if cd.ECC() || out.Identity.BasicKeyHash != nil {
		if out.BasicPublicKey, err = c.ReadFile(ctx, FileBasicPublicKey); err != nil {
			return nil, err
		}
		out.BasicKeyChallenge, challengeErr = c.ChallengeBasicKey(ctx)
		var se *apdu.StatusError
		if challengeErr != nil && !errors.As(challengeErr, &se) {
			return nil, challengeErr
		}
	}
	out.Integrity = VerifyIntegrity(out)
	if challengeErr != nil && !errors.Is(out.Integrity.CardAuthentication, ErrCardAuthUnavailable) {
		// A card that refuses the challenge has not proved anything; a
		// genuine one refuses only after 5000 challenges without a PIN
		// verification (facts §6).
		out.Integrity.CardAuthentication = fmt.Errorf("%w: the card refused the basic key challenge: %w", ErrIntegrity, challengeErr)
	}
	return out, nil
}
