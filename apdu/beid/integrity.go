package beid

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
)

// VerifyIntegrity checks what the National Register (RRN) signed on the
// card in c:
//
//   - the identity signature (file 4032) over the identity file as read;
//   - the address signature (4034) over the address file without its
//     trailing zeros followed by the whole identity signature file;
//   - the photo against the photo hash of the identity file, the hash
//     told by its length: 20 bytes SHA-1 (older RSA cards), 32 SHA-256
//     (applet 1.7 cards of 2018 and 2022, the EC-signed ones among
//     them), 48 SHA-384 (applet 1.8);
//   - on applet 1.8, the basic public key file (4040) against its SHA-384
//     hash in the identity file;
//   - on applet 1.8, the card's answer to the basic key challenge
//     (Contents.BasicKeyChallenge) against that key: whether the card is
//     genuine. Whether the card must take this check is decided by the
//     signed identity file (tag 1A present), not by what the card says of
//     its applet version;
//   - the RRN certificate against the card's root certificate.
//
// With an EC RRN key, as on applet 1.8 and on applet 1.7 cards issued since
// about 2022, the signatures are ECDSA with SHA-384, stored as DER followed
// by zero padding (to 256 bytes on those 1.7 cards). With an RSA key they are PKCS #1 v1.5, and the
// hash is told by the photo hash's length, as the official middleware does:
// SHA-1 (or SHA-256 on re-signed cards) when it is 20 bytes, SHA-256 for 32,
// SHA-384 for 48.
//
// The card's root certificate only ties the RRN certificate to the card:
// whether that root is a Belgian root (or, in tests, the simulator's) is for
// the caller to decide. Each failed check is an error matching ErrIntegrity.
func VerifyIntegrity(c *Contents) Integrity {
	if c == nil {
		err := fmt.Errorf("%w: no card contents", ErrIntegrity)
		return Integrity{err, err, err, err, err, err}
	}
	var in Integrity
	in.RRNCertificate = checkIssuedBy(c.RRNCert, c.RootCert)

	id := c.Identity
	if id == nil && len(c.IdentityFile) > 0 {
		id, _ = ParseIdentity(c.IdentityFile)
	}
	var photoHash, basicKeyHash []byte
	if id != nil {
		photoHash, basicKeyHash = id.PhotoHash, id.BasicKeyHash
	}

	if c.RRNCert == nil {
		err := fmt.Errorf("%w: no RRN certificate to check signatures with", ErrIntegrity)
		in.IdentitySignature, in.AddressSignature = err, err
	} else {
		in.IdentitySignature = verifyRRNSignature(c.RRNCert, c.IdentityFile, c.IdentitySignature, len(photoHash))
		if in.IdentitySignature != nil {
			in.IdentitySignature = fmt.Errorf("identity file: %w", in.IdentitySignature)
		}
		addr := trimZeros(c.AddressFile)
		signed := make([]byte, 0, len(addr)+len(c.IdentitySignature))
		signed = append(append(signed, addr...), c.IdentitySignature...)
		in.AddressSignature = verifyRRNSignature(c.RRNCert, signed, c.AddressSignature, len(photoHash))
		if in.AddressSignature != nil {
			in.AddressSignature = fmt.Errorf("address file: %w", in.AddressSignature)
		}
	}
	in.PhotoHash = checkPhoto(c.Photo, photoHash)
	if basicKeyHash != nil {
		in.BasicKeyHash = checkBasicKey(c.BasicPublicKey, basicKeyHash)
	}
	in.CardAuthentication = checkCardAuthentication(c, basicKeyHash, in.BasicKeyHash)
	return in
}

func checkIssuedBy(cert, root *x509.Certificate) error {
	if cert == nil || root == nil {
		return fmt.Errorf("%w: RRN or root certificate missing", ErrIntegrity)
	}
	err := cert.CheckSignatureFrom(root)
	var insecure x509.InsecureAlgorithmError
	if errors.As(err, &insecure) && cert.SignatureAlgorithm == x509.SHA1WithRSA {
		// Go refuses SHA-1 certificate signatures, but RRN certificates
		// under the older Belgian roots have them. Check the signature
		// by hand, with the same CA condition CheckSignatureFrom sets.
		err = checkSHA1RSA(cert, root)
	}
	if err != nil {
		return fmt.Errorf("%w: RRN certificate not issued by the card's root: %w", ErrIntegrity, err)
	}
	return nil
}

func checkSHA1RSA(cert, root *x509.Certificate) error {
	if root.Version == 3 && (!root.BasicConstraintsValid || !root.IsCA) {
		return errors.New("root certificate is not a CA")
	}
	pub, ok := root.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("SHA-1 with RSA signature under a non-RSA key")
	}
	h := sha1.Sum(cert.RawTBSCertificate)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], cert.Signature)
}

// verifyRRNSignature checks sig over data with the RRN certificate's key.
func verifyRRNSignature(rrn *x509.Certificate, data, sig []byte, photoHashLen int) error {
	if len(data) == 0 || len(sig) == 0 {
		return fmt.Errorf("%w: file or signature missing", ErrIntegrity)
	}
	switch pub := rrn.PublicKey.(type) {
	case *ecdsa.PublicKey:
		n, err := derLength(sig)
		if err != nil || n > len(sig) {
			return fmt.Errorf("%w: signature is not a DER ECDSA signature", ErrIntegrity)
		}
		h := sha512.Sum384(data)
		if !ecdsa.VerifyASN1(pub, h[:], sig[:n]) {
			return fmt.Errorf("%w: ECDSA signature does not verify", ErrIntegrity)
		}
		return nil
	case *rsa.PublicKey:
		k := pub.Size()
		if len(sig) > k && allZero(sig[k:]) {
			sig = sig[:k]
		}
		var hashes []crypto.Hash
		switch photoHashLen {
		case sha1.Size:
			hashes = []crypto.Hash{crypto.SHA1, crypto.SHA256}
		case sha256.Size:
			hashes = []crypto.Hash{crypto.SHA256}
		case sha512.Size384:
			hashes = []crypto.Hash{crypto.SHA384}
		default:
			hashes = []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA384}
		}
		for _, h := range hashes {
			if rsa.VerifyPKCS1v15(pub, h, digest(h, data), sig) == nil {
				return nil
			}
		}
		return fmt.Errorf("%w: RSA signature does not verify", ErrIntegrity)
	}
	return fmt.Errorf("%w: RRN certificate has an unsupported key type %T", ErrIntegrity, rrn.PublicKey)
}

func digest(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA1:
		d := sha1.Sum(data)
		return d[:]
	case crypto.SHA256:
		d := sha256.Sum256(data)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	}
	return nil
}

func checkPhoto(photo, want []byte) error {
	if len(want) == 0 {
		return fmt.Errorf("%w: identity file has no photo hash", ErrIntegrity)
	}
	if len(photo) == 0 {
		return fmt.Errorf("%w: no photo", ErrIntegrity)
	}
	var got []byte
	switch len(want) {
	case sha1.Size:
		got = digest(crypto.SHA1, photo)
	case sha256.Size:
		got = digest(crypto.SHA256, photo)
	case sha512.Size384:
		got = digest(crypto.SHA384, photo)
	default:
		return fmt.Errorf("%w: photo hash of unexpected length %d", ErrIntegrity, len(want))
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: photo does not match its hash", ErrIntegrity)
	}
	return nil
}

func checkBasicKey(file, want []byte) error {
	if len(file) == 0 {
		return fmt.Errorf("%w: basic public key file not read", ErrIntegrity)
	}
	if bytes.Equal(digest(crypto.SHA384, file), want) {
		return nil
	}
	// Should the file carry padding after the key, the hash may cover the
	// DER structure only.
	if n, err := derLength(file); err == nil && n < len(file) && bytes.Equal(digest(crypto.SHA384, file[:n]), want) {
		return nil
	}
	return fmt.Errorf("%w: basic public key does not match its hash", ErrIntegrity)
}
