package beid

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// rsaChain makes a root and an RRN certificate under it, the RRN one signed
// with sigAlg, as the older Belgian roots did with SHA-1.
func rsaChain(t *testing.T, sigAlg x509.SignatureAlgorithm) (root, rrn *x509.Certificate, rrnKey *rsa.PrivateKey) {
	t.Helper()
	rootKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if rrnKey, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	rrnTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "RRN"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), SignatureAlgorithm: sigAlg,
	}
	if der, err = x509.CreateCertificate(rand.Reader, rrnTmpl, root, &rrnKey.PublicKey, rootKey); err != nil {
		t.Skipf("cannot make a %v certificate here: %v", sigAlg, err)
	}
	if rrn, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return root, rrn, rrnKey
}

func rsaSign(t *testing.T, k *rsa.PrivateKey, h crypto.Hash, data []byte) []byte {
	t.Helper()
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, h, digest(h, data))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestVerifyIntegrityRSAHashes(t *testing.T) {
	root, rrn, key := rsaChain(t, x509.SHA256WithRSA)
	photo := []byte("\xFF\xD8 a photo \xFF\xD9")
	sha1Photo, sha256Photo, sha384Photo := sha1.Sum(photo), sha256.Sum256(photo), sha512.Sum384(photo)
	for _, tc := range []struct {
		name      string
		photoHash []byte
		rrnHash   crypto.Hash
		valid     bool
	}{
		{"SHA-1 card", sha1Photo[:], crypto.SHA1, true},
		{"re-signed SHA-1 card", sha1Photo[:], crypto.SHA256, true},
		{"SHA-256 card", sha256Photo[:], crypto.SHA256, true},
		{"SHA-384 card", sha384Photo[:], crypto.SHA384, true},
		{"SHA-256 photo, SHA-1 signature", sha256Photo[:], crypto.SHA1, false},
	} {
		id := &Identity{CardNumber: "1", PhotoHash: tc.photoHash}
		idFile, err := id.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		addrFile := append(tlv(0x01, "Street 1", 0x02, "1000", 0x03, "Brussel"), make([]byte, 20)...)
		idSig := rsaSign(t, key, tc.rrnHash, idFile)
		addrSig := rsaSign(t, key, tc.rrnHash, append(trimZeros(addrFile), idSig...))
		c := &Contents{
			IdentityFile: idFile, IdentitySignature: idSig, AddressFile: addrFile,
			AddressSignature: addrSig, Photo: photo, RootCert: root, RRNCert: rrn,
		}
		in := VerifyIntegrity(c)
		if in.Valid() != tc.valid {
			t.Errorf("%s: %+v, want valid=%v", tc.name, in, tc.valid)
		}
		if !tc.valid && (!errors.Is(in.IdentitySignature, ErrIntegrity) || !errors.Is(in.AddressSignature, ErrIntegrity)) {
			t.Errorf("%s: %+v, want both signatures rejected", tc.name, in)
		}
	}
}

func TestVerifyIntegritySHA1Root(t *testing.T) {
	root, rrn, _ := rsaChain(t, x509.SHA1WithRSA)
	if err := checkIssuedBy(rrn, root); err != nil {
		t.Errorf("SHA-1 RRN certificate: %v", err)
	}
	other, _, _ := rsaChain(t, x509.SHA256WithRSA)
	if err := checkIssuedBy(rrn, other); !errors.Is(err, ErrIntegrity) {
		t.Errorf("SHA-1 RRN certificate under another root: %v, want ErrIntegrity", err)
	}
}

func TestVerifyIntegrityMissingParts(t *testing.T) {
	in := VerifyIntegrity(nil)
	for _, err := range []error{in.IdentitySignature, in.AddressSignature, in.PhotoHash, in.RRNCertificate, in.BasicKeyHash} {
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("nil contents: %v, want ErrIntegrity", err)
		}
	}
	in = VerifyIntegrity(&Contents{})
	if in.Valid() || !errors.Is(in.PhotoHash, ErrIntegrity) || !errors.Is(in.RRNCertificate, ErrIntegrity) {
		t.Errorf("empty contents: %+v", in)
	}
	for _, tc := range []struct {
		name        string
		photo, hash []byte
	}{
		{"no photo", nil, make([]byte, 20)},
		{"no hash", []byte("x"), nil},
		{"odd hash length", []byte("x"), make([]byte, 21)},
		{"wrong hash", []byte("x"), make([]byte, 48)},
	} {
		if err := checkPhoto(tc.photo, tc.hash); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", tc.name, err)
		}
	}
	key := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	h := sha512.Sum384(key)
	if err := checkBasicKey(key, h[:]); err != nil {
		t.Errorf("basic key: %v", err)
	}
	if err := checkBasicKey(append(key, 0, 0), h[:]); err != nil {
		t.Errorf("padded basic key: %v", err)
	}
	if err := checkBasicKey(nil, h[:]); !errors.Is(err, ErrIntegrity) {
		t.Errorf("missing basic key: %v", err)
	}
}
