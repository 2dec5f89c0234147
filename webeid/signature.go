package webeid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
)

// MinRSABits is the smallest RSA modulus accepted. Belgian eID cards since
// applet 1.7 use 2048-bit keys; the 1024-bit keys of the first cards expired
// long ago.
const MinRSABits = 2048

// VerifySignature checks a signature made by the daemon's sign method (or
// any card signature over a precomputed digest) with the certificate's
// public key:
//
//   - ECDSA keys: signature is the raw r‖s concatenation (IEEE P1363, as
//     in JWS and Web eID), each half as long as the curve order. A DER
//     (ASN.1 SEQUENCE) signature is refused with ErrSignature rather than
//     guessed at, so one signature has one encoding.
//   - RSA keys: PKCS #1 v1.5 with the DigestInfo of hash.
//
// digest must be exactly hash.Size() bytes. VerifySignature does not look
// at the certificate's chain, validity, policy or revocation status:
// Validator.VerifyDocumentSignature does all of that and this.
func VerifySignature(cert *x509.Certificate, hash crypto.Hash, digest, signature []byte) error {
	if cert == nil {
		return errorf(ErrCertificate, "no certificate")
	}
	switch hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return errorf(ErrAlgorithm, "hash %v not supported", hash)
	}
	if len(digest) != hash.Size() {
		return errorf(ErrFormat, "digest is %d bytes, %v needs %d", len(digest), hash, hash.Size())
	}
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return verifyECDSA(pub, digest, signature)
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return errorf(ErrAlgorithm, "RSA key of %d bits is too small", pub.N.BitLen())
		}
		if err := rsa.VerifyPKCS1v15(pub, hash, digest, signature); err != nil {
			return errorf(ErrSignature, "RSA PKCS #1 v1.5: %v", err)
		}
		return nil
	default:
		return errorf(ErrAlgorithm, "unsupported public key type %T", cert.PublicKey)
	}
}

// verifyECDSA checks a raw r‖s signature.
func verifyECDSA(pub *ecdsa.PublicKey, digest, sig []byte) error {
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		// The usual cause is a DER-encoded signature (70..72 bytes for
		// P-256, about 102..104 for P-384): say so, it saves a debugging
		// session.
		if len(sig) > 0 && sig[0] == 0x30 {
			return errorf(ErrSignature, "ECDSA signature is %d bytes and looks like DER; r||s of %d bytes expected", len(sig), 2*n)
		}
		return errorf(ErrSignature, "ECDSA signature is %d bytes, r||s of %d bytes expected", len(sig), 2*n)
	}
	r := new(big.Int).SetBytes(sig[:n])
	s := new(big.Int).SetBytes(sig[n:])
	if !ecdsa.Verify(pub, digest, r, s) {
		return errorf(ErrSignature, "ECDSA signature does not verify")
	}
	return nil
}

// verifyAlgorithm checks that alg fits the key, then verifies sig over the
// hash of msg.
func verifyAlgorithm(cert *x509.Certificate, name string, msg, sig []byte) error {
	alg, ok := algorithms[name]
	if !ok {
		return errorf(ErrAlgorithm, "algorithm %q not supported", name)
	}
	h := alg.hash.New()
	h.Write(msg)
	digest := h.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if alg.kind != kindEC {
			return errorf(ErrAlgorithm, "%s used with an ECDSA key", name)
		}
		if got := pub.Curve.Params().Name; got != alg.curve {
			return errorf(ErrAlgorithm, "%s needs curve %s, key is on %s", name, alg.curve, got)
		}
		return verifyECDSA(pub, digest, sig)
	case *rsa.PublicKey:
		if alg.kind != kindRSA {
			return errorf(ErrAlgorithm, "%s used with an RSA key", name)
		}
		if pub.N.BitLen() < MinRSABits {
			return errorf(ErrAlgorithm, "RSA key of %d bits is too small", pub.N.BitLen())
		}
		var err error
		if alg.pss {
			// JWS PS* fixes the salt length to the hash length (RFC 7518 §3.5).
			err = rsa.VerifyPSS(pub, alg.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.hash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, alg.hash, digest, sig)
		}
		if err != nil {
			return errorf(ErrSignature, "%s: %v", name, err)
		}
		return nil
	default:
		return errorf(ErrAlgorithm, "unsupported public key type %T", cert.PublicKey)
	}
}
