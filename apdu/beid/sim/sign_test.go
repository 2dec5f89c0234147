package sim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"math/big"
	"testing"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// verifyRaw checks an r||s ECDSA signature over hash.
func verifyRaw(pub *ecdsa.PublicKey, hash, sig []byte) bool {
	if len(sig) != 96 {
		return false
	}
	r := new(big.Int).SetBytes(sig[:48])
	s := new(big.Int).SetBytes(sig[48:])
	return ecdsa.Verify(pub, hash, r, s)
}

// cardSign runs MSE, VERIFY (for key 83 right before the PSO, else first)
// and PSO without Le, and collects the signature with GET RESPONSE.
func cardSign(t *testing.T, c *Card, key, alg byte, in []byte) []byte {
	t.Helper()
	mse := fmt.Sprintf("00 22 41 B6 05 04 80 %02X 84 %02X", alg, key)
	// The middleware's order: MSE, then VERIFY right before the PSO,
	// which the non-repudiation key of applet 1.7 needs.
	expect(t, c, mse, apdu.SWOK)
	expect(t, c, verify1234, apdu.SWOK)
	pso := append([]byte{0x00, 0x2A, 0x9E, 0x9A, byte(len(in))}, in...)
	_, sw := tx(t, c, pso)
	n, ok := sw.MoreData()
	if !ok {
		t.Fatalf("PSO alg %02X key %02X: SW %s, want 61xx", alg, key, sw)
	}
	sig, sw := tx(t, c, []byte{0x00, 0xC0, 0x00, 0x00, byte(n)})
	if sw != apdu.SWOK {
		t.Fatalf("GET RESPONSE: %s", sw)
	}
	return sig
}

func TestSignRSA(t *testing.T) {
	c := newCardShared(t, ProfileRSA)
	msg := []byte("cardbridge")
	s1, s256 := sha1.Sum(msg), sha256.Sum256(msg)
	s384, m5 := sha512.Sum384(msg), md5.Sum(msg)
	tests := []struct {
		name   string
		alg    byte
		in     []byte
		verify func(pub *rsa.PublicKey, sig []byte) error
	}{
		{"01 DigestInfo SHA-256", 0x01, append(bytes.Clone(digestInfoSHA256), s256[:]...), func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, s256[:], sig)
		}},
		{"01 DigestInfo SHA-384", 0x01, append(h(t, "3041300D060960864801650304020205000430"), s384[:]...), func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA384, s384[:], sig)
		}},
		{"02 SHA-1", 0x02, s1[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA1, s1[:], sig)
		}},
		{"04 MD5", 0x04, m5[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, 0, append(bytes.Clone(digestInfoMD5), m5[:]...), sig)
		}},
		{"08 SHA-256", 0x08, s256[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, s256[:], sig)
		}},
		{"10 PSS SHA-1", 0x10, s1[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPSS(pub, crypto.SHA1, s1[:], sig, &rsa.PSSOptions{SaltLength: 20})
		}},
		{"20 PSS SHA-256", 0x20, s256[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPSS(pub, crypto.SHA256, s256[:], sig, &rsa.PSSOptions{SaltLength: 32})
		}},
	}
	for _, tt := range tests {
		for _, key := range []struct {
			ref  byte
			cert *x509.Certificate
		}{{0x82, c.AuthCert()}, {0x83, c.SignCert()}} {
			t.Run(fmt.Sprintf("%s key %02X", tt.name, key.ref), func(t *testing.T) {
				sig := cardSign(t, c, key.ref, tt.alg, tt.in)
				if len(sig) != 256 {
					t.Fatalf("signature of %d bytes", len(sig))
				}
				if err := tt.verify(key.cert.PublicKey.(*rsa.PublicKey), sig); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func TestSignECC(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	tests := []struct {
		alg byte
		n   int
	}{
		{0x01, 32}, {0x02, 48}, {0x04, 64}, {0x08, 32}, {0x10, 48}, {0x20, 64},
		{0x40, 20}, {0x40, 28}, {0x40, 32}, {0x40, 48}, {0x40, 64},
	}
	for _, tt := range tests {
		for _, key := range []struct {
			ref  byte
			cert *x509.Certificate
		}{{0x82, c.AuthCert()}, {0x83, c.SignCert()}} {
			t.Run(fmt.Sprintf("alg %02X len %d key %02X", tt.alg, tt.n, key.ref), func(t *testing.T) {
				hash := bytes.Repeat([]byte{0xA5, byte(tt.n)}, tt.n/2)
				sig := cardSign(t, c, key.ref, tt.alg, hash)
				if !verifyRaw(key.cert.PublicKey.(*ecdsa.PublicKey), hash, sig) {
					t.Errorf("r||s does not verify: % X", sig)
				}
			})
		}
	}
}

func TestSignWrongLength(t *testing.T) {
	tests := []struct {
		p   Profile
		alg byte
		n   int
	}{
		{ProfileRSA, 0x02, 32}, {ProfileRSA, 0x08, 20}, {ProfileRSA, 0x08, 33}, {ProfileRSA, 0x04, 20},
		{ProfileRSA, 0x10, 32}, {ProfileRSA, 0x20, 20}, {ProfileRSA, 0x01, 246},
		{ProfileECC, 0x01, 48}, {ProfileECC, 0x02, 32}, {ProfileECC, 0x04, 48}, {ProfileECC, 0x40, 33},
	}
	for _, tt := range tests {
		c := newCardShared(t, tt.p)
		run(t, c, []step{{verify1234, apdu.SWOK}, {fmt.Sprintf("00 22 41 B6 05 04 80 %02X 84 82", tt.alg), apdu.SWOK}})
		pso := append([]byte{0x00, 0x2A, 0x9E, 0x9A, byte(tt.n)}, make([]byte, tt.n)...)
		if _, sw := tx(t, c, pso); sw != apdu.SWWrongLength {
			t.Errorf("%v alg %02X with %d bytes: SW %s, want 6700", tt.p, tt.alg, tt.n, sw)
		}
	}
	// RSA algorithm 01 takes a DigestInfo up to the key size less 11.
	c := newCardShared(t, ProfileRSA)
	sig := cardSign(t, c, 0x82, 0x01, make([]byte, 245))
	if err := rsa.VerifyPKCS1v15(c.AuthCert().PublicKey.(*rsa.PublicKey), 0, make([]byte, 245), sig); err != nil {
		t.Error(err)
	}
}

// TestAccessRules walks the PIN rules of facts §5 through scripted
// exchanges.
func TestAccessRules(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			alg, n := "08", 32
			sigSW := apdu.StatusWord(0x6100)
			if p == ProfileECC {
				alg, n, sigSW = "02", 48, 0x6160
			}
			mse82 := "00 22 41 B6 05 04 80 " + alg + " 84 82"
			mse83 := "00 22 41 B6 05 04 80 " + alg + " 84 83"
			pso := fmt.Sprintf("00 2A 9E 9A %02X %X", n, bytes.Repeat([]byte{0x11}, n))
			getResp := fmt.Sprintf("00 C0 00 00 %02X", byte(sigSW))
			other := "80 E4 00 00 1C"
			// On applet 1.8 one command other than VERIFY or PSO may
			// stand between the VERIFY and a non-repudiation PSO; on
			// 1.7 none may.
			oneBetween := apdu.SWSecurityStatus
			if p == ProfileECC {
				oneBetween = sigSW
			}
			tests := []struct {
				name  string
				steps []step
			}{
				{"auth needs a PIN", []step{{mse82, apdu.SWOK}, {pso, apdu.SWSecurityStatus}, {verify1234, apdu.SWOK}, {pso, sigSW}}},
				{"auth PIN once per session", []step{
					{verify1234, apdu.SWOK}, {mse82, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK},
					{pso, sigSW}, {other, apdu.SWOK}, {"00 A4 08 0C 02 3F 00", apdu.SWOK}, {pso, sigSW}}},
				{"nonrep MSE, VERIFY, PSO", []step{{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}}},
				{"nonrep VERIFY, MSE, PSO", []step{{verify1234, apdu.SWOK}, {mse83, apdu.SWOK}, {pso, oneBetween}}},
				{"nonrep needs a VERIFY per signature", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep consumed even without GET RESPONSE", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep other command before MSE", []step{
					{verify1234, apdu.SWOK}, {other, apdu.SWOK}, {mse83, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep other command after MSE", []step{
					{verify1234, apdu.SWOK}, {mse83, apdu.SWOK}, {other, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep other command after VERIFY", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {"00 A4 08 0C 02 3F 00", apdu.SWOK}, {pso, oneBetween}}},
				{"nonrep GET CARD DATA after VERIFY", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {other, apdu.SWOK}, {pso, oneBetween}}},
				{"nonrep PSO after VERIFY", []step{
					{mse82, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {mse83, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep second VERIFY between", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {"00 20 00 01", apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep reset between", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {"reset", 0}, {mse83, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep PIN status is no VERIFY", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {"00 20 00 01", apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"nonrep not from session access", []step{
					{verify1234, apdu.SWOK}, {mse82, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK},
					{mse83, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"PIN mixed", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK},
					{mse82, apdu.SWOK}, {pso, apdu.SWSecurityStatus}, {verify1234, apdu.SWOK}, {pso, sigSW}}},
				{"PIN mixed, other commands between", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK},
					{other, apdu.SWOK}, {"00 A4 08 0C 04 3F 00 DF 01", apdu.SWOK}, {mse82, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"auth VERIFY first keeps auth access after nonrep", []step{
					{mse82, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK},
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {pso, sigSW}, {getResp, apdu.SWOK},
					{mse82, apdu.SWOK}, {pso, sigSW}}},
				{"wrong VERIFY clears access", []step{
					{verify1234, apdu.SWOK}, {verifyBad, 0x63C2}, {mse82, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"wrong VERIFY after right one", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {verifyBad, 0x63C2}, {pso, apdu.SWSecurityStatus}}},
				{"LOG OFF clears access", []step{
					{verify1234, apdu.SWOK}, {"80 E6 00 00", apdu.SWOK}, {mse82, apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"LOG OFF between VERIFY and nonrep", []step{
					{mse83, apdu.SWOK}, {verify1234, apdu.SWOK}, {"80 E6 00 00", apdu.SWOK}, {pso, apdu.SWSecurityStatus}}},
				{"no security environment", []step{{verify1234, apdu.SWOK}, {pso, apdu.SWConditionsNotSatisfied}}},
				{"failed MSE drops the environment", []step{
					{verify1234, apdu.SWOK}, {mse82, apdu.SWOK}, {"00 22 41 B6 05 04 80 03 84 82", apdu.SWIncorrectData},
					{pso, apdu.SWConditionsNotSatisfied}}},
				{"bad P1/P2", []step{{verify1234, apdu.SWOK}, {mse82, apdu.SWOK}, {"00 2A 9E 9B 01 00", apdu.SWIncorrectP1P2}}},
				{"empty data", []step{{verify1234, apdu.SWOK}, {mse82, apdu.SWOK}, {"00 2A 9E 9A", apdu.SWWrongLength}}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { run(t, newCardShared(t, p), tt.steps) })
			}
		})
	}
}

func TestMSE(t *testing.T) {
	tests := []struct {
		p    Profile
		cmd  string
		want apdu.StatusWord
	}{
		{ProfileRSA, "00 22 41 B6 05 04 80 01 84 82", apdu.SWOK},
		{ProfileRSA, "00 22 41 B6 05 04 80 20 84 83", apdu.SWOK},
		{ProfileRSA, "00 22 41 B6 05 04 80 40 84 82", apdu.SWIncorrectData},
		{ProfileRSA, "00 22 41 B6 05 04 80 03 84 82", apdu.SWIncorrectData},
		{ProfileRSA, "00 22 41 B6 05 04 80 02 84 81", apdu.SWReferenceNotFound},
		{ProfileRSA, "00 22 41 B6 05 04 80 02 84 84", apdu.SWReferenceNotFound},
		{ProfileECC, "00 22 41 B6 05 04 80 40 84 82", apdu.SWOK},
		{ProfileECC, "00 22 41 B6 05 04 80 02 84 81", apdu.SWOK},
		{ProfileECC, "00 22 41 B6 05 04 80 03 84 82", apdu.SWIncorrectData},
		{ProfileECC, "00 22 41 B6 05 04 80 80 84 83", apdu.SWIncorrectData},
		{ProfileECC, "00 22 41 B6 05 04 80 02 84 80", apdu.SWReferenceNotFound},
		{ProfileECC, "00 22 41 B6 05 04 84 82 80 02", apdu.SWOK}, // order of the tags
		{ProfileECC, "00 22 41 A4 05 04 80 02 84 82", apdu.SWIncorrectP1P2},
		{ProfileECC, "00 22 81 B6 05 04 80 02 84 82", apdu.SWIncorrectP1P2},
		{ProfileECC, "00 22 41 B6 05 05 80 02 84 82", apdu.SWIncorrectData},
		{ProfileECC, "00 22 41 B6 05 04 80 02 83 82", apdu.SWIncorrectData},
		{ProfileECC, "00 22 41 B6 03 02 80 02", apdu.SWIncorrectData},
		{ProfileECC, "00 22 41 B6 06 05 80 02 84 82 00", apdu.SWIncorrectData},
		{ProfileECC, "00 22 41 B6 05 04 80 02 84", apdu.SWWrongLength}, // Lc says 5, 4 sent
		{ProfileECC, "00 22 41 B6", apdu.SWWrongLength},
	}
	for _, tt := range tests {
		c := newCardShared(t, tt.p)
		if _, sw := tx(t, c, h(t, tt.cmd)); sw != tt.want {
			t.Errorf("%v %s: SW %s, want %s", tt.p, tt.cmd, sw, tt.want)
		}
	}
}

func TestKeyBasicNotForPSO(t *testing.T) {
	run(t, newCardShared(t, ProfileECC), []step{
		{verify1234, apdu.SWOK},
		{"00 22 41 B6 05 04 80 02 84 81", apdu.SWOK},
		{"00 2A 9E 9A 30 " + fmt.Sprintf("%X", make([]byte, 48)), apdu.SWConditionsNotSatisfied},
	})
}

// TestResponseChaining checks the T=0 61xx / GET RESPONSE / 6Cxx rules and
// the direct answer when the PSO carries Le.
func TestResponseChaining(t *testing.T) {
	c := newCardShared(t, ProfileRSA)
	digest := sha256.Sum256([]byte("chained"))
	pub := c.AuthCert().PublicKey.(*rsa.PublicKey)
	pso := fmt.Sprintf("00 2A 9E 9A 20 %X", digest)
	run(t, c, []step{
		{"00 C0 00 00 10", apdu.SWConditionsNotSatisfied}, // nothing waits
		{verify1234, apdu.SWOK},
		{"00 22 41 B6 05 04 80 08 84 82", apdu.SWOK},
		{pso, 0x6100},
	})
	expect(t, c, "00 C0 00 00 80", 0x6180)
	expect(t, c, "00 C0 00 00 FF", 0x6C80) // too long: the data stays
	expect(t, c, "00 C0 01 00 80", apdu.SWIncorrectP1P2)
	expect(t, c, "00 C0 00 00 80", apdu.SWConditionsNotSatisfied) // bad GET RESPONSE dropped it
	expect(t, c, pso, 0x6100)
	first := expect(t, c, "00 C0 00 00 80", 0x6180)
	expect(t, c, "00 C0 00 00 FF", 0x6C80)
	second := expect(t, c, "00 C0 00 00 80", apdu.SWOK)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], append(first, second...)); err != nil {
		t.Errorf("chained signature: %v", err)
	}
	expect(t, c, "00 C0 00 00 80", apdu.SWConditionsNotSatisfied)

	// Any other command drops the waiting data.
	expect(t, c, pso, 0x6100)
	expect(t, c, "80 E4 00 00 1C", apdu.SWOK)
	expect(t, c, "00 C0 00 00 00", apdu.SWConditionsNotSatisfied)

	// With Le the data comes at once.
	sig := expect(t, c, pso+" 00", apdu.SWOK)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("direct signature: %v", err)
	}
	// A short Le gets part of it and 61xx for the rest.
	part := expect(t, c, pso+" 10", 0x61F0)
	rest := expect(t, c, "00 C0 00 00 F0", apdu.SWOK)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], append(part, rest...)); err != nil {
		t.Errorf("split signature: %v", err)
	}

	// ECDSA: 96 bytes, 61 60; Le=00 on GET RESPONSE is too long.
	e := newCardShared(t, ProfileECC)
	hash := sha512.Sum384([]byte("chained"))
	psoE := fmt.Sprintf("00 2A 9E 9A 30 %X", hash)
	run(t, e, []step{{verify1234, apdu.SWOK}, {"00 22 41 B6 05 04 80 02 84 82", apdu.SWOK}, {psoE, 0x6160}, {"00 C0 00 00 00", 0x6C60}})
	sigE := expect(t, e, "00 C0 00 00 60", apdu.SWOK)
	if !verifyRaw(e.AuthCert().PublicKey.(*ecdsa.PublicKey), hash[:], sigE) {
		t.Error("ECDSA signature does not verify")
	}
	if sigE := expect(t, e, psoE+" 00", apdu.SWOK); !verifyRaw(e.AuthCert().PublicKey.(*ecdsa.PublicKey), hash[:], sigE) {
		t.Error("direct ECDSA signature does not verify")
	}

	// apdu.Exchange, as the driver uses it, assembles the same.
	resp, err := apdu.Exchange(context.Background(), e, apdu.Command{INS: apdu.InsPSO, P1: 0x9E, P2: 0x9A, Data: hash[:]})
	if err != nil || resp.SW != apdu.SWOK || !verifyRaw(e.AuthCert().PublicKey.(*ecdsa.PublicKey), hash[:], resp.Data) {
		t.Errorf("Exchange: %v, %v", resp.SW, err)
	}
}

// TestInternalAuthenticateClearsSE is S6: a card authentication leaves no
// security environment; the signature after it needs a new MSE SET.
func TestInternalAuthenticateClearsSE(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	challenge := fmt.Sprintf("00 88 02 81 32 94 30 %X", bytes.Repeat([]byte{0x5A}, 48))
	pso := fmt.Sprintf("00 2A 9E 9A 30 %X", bytes.Repeat([]byte{0x11}, 48))
	mse82 := "00 22 41 B6 05 04 80 02 84 82"
	run(t, c, []step{
		{verify1234, apdu.SWOK}, {mse82, apdu.SWOK}, {challenge, 0x6160}, {"00 C0 00 00 60", apdu.SWOK},
		{pso, apdu.SWConditionsNotSatisfied},
		{mse82, apdu.SWOK}, {pso, 0x6160},
	})
	// A refused challenge is no card authentication: the environment stays.
	run(t, c, []step{
		{mse82, apdu.SWOK}, {fmt.Sprintf("00 88 02 81 32 95 30 %X", bytes.Repeat([]byte{0x5A}, 48)), apdu.SWIncorrectData}, {pso, 0x6160},
	})
}

func TestInternalAuthenticate(t *testing.T) {
	c := newCardShared(t, ProfileECC)
	keyFile := readFile(t, c, "3F00DF014040", 0xFC)
	k, err := x509.ParsePKIXPublicKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*ecdsa.PublicKey)
	if !pub.Equal(c.BasicPublicKey()) {
		t.Fatal("4040 does not hold the basic key")
	}
	challenge := bytes.Repeat([]byte{0x5A}, 48)
	cmd := fmt.Sprintf("00 88 02 81 32 94 30 %X", challenge)
	expect(t, c, cmd, 0x6160) // no PIN, no MSE
	if sig := expect(t, c, "00 C0 00 00 60", apdu.SWOK); !verifyRaw(pub, challenge, sig) {
		t.Error("challenge signature does not verify with 4040")
	}
	// commons-eid sends an MSE first; that works too.
	run(t, c, []step{{"00 22 41 B6 05 04 80 02 84 81", apdu.SWOK}, {cmd, 0x6160}})
	if sig := expect(t, c, cmd+" 00", apdu.SWOK); !verifyRaw(pub, challenge, sig) {
		t.Error("direct challenge signature does not verify")
	}
	run(t, c, []step{
		{fmt.Sprintf("00 88 02 82 32 94 30 %X", challenge), apdu.SWReferenceNotFound},
		{fmt.Sprintf("00 88 03 81 32 94 30 %X", challenge), apdu.SWIncorrectP1P2},
		{fmt.Sprintf("00 88 02 81 32 95 30 %X", challenge), apdu.SWIncorrectData},
		{fmt.Sprintf("00 88 02 81 32 94 2F %X", challenge), apdu.SWIncorrectData},
		{fmt.Sprintf("00 88 02 81 22 94 20 %X", challenge[:32]), apdu.SWIncorrectData},
		{fmt.Sprintf("00 88 40 81 22 94 20 %X", challenge[:32]), 0x6160},
		{"00 88 02 81", apdu.SWWrongLength},
	})
	run(t, newCardShared(t, ProfileRSA), []step{{cmd, apdu.SWReferenceNotFound}})

	// The applet stops after 5000 uses until the PIN is verified.
	c.mu.Lock()
	c.authCount = internalAuthLimit
	c.mu.Unlock()
	run(t, c, []step{{cmd, apdu.SWSecurityStatus}, {verify1234, apdu.SWOK}, {cmd, 0x6160}})
}

// TestDriver runs the project's BELPIC driver against the simulator: the
// two were written from the same facts by different hands, so agreement is
// a check on both.
func TestDriver(t *testing.T) {
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			sc := newCardShared(t, p)
			card := beid.New(sc)
			all, err := card.ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !all.Integrity.Valid() {
				t.Errorf("integrity: %+v", all.Integrity)
			}
			if all.Identity.Surname != "Van den Bossche" || all.Address.ZipCode != "9000" || all.CardData.AppletVersion != p.AppletVersion() {
				t.Errorf("read %+v / %+v", all.Identity, all.Address)
			}
			if !all.AuthCert.Equal(sc.AuthCert()) || !all.RootCert.Equal(sc.PKI().Root) {
				t.Error("certificates differ")
			}
			if n, err := card.PINTriesLeft(ctx); err != nil || n != 3 {
				t.Errorf("PINTriesLeft = %d, %v", n, err)
			}
			digest := sha256.Sum256([]byte("driver"))
			for _, key := range []beid.Key{beid.KeyAuthentication, beid.KeySignature} {
				sig, err := card.Sign(ctx, key, crypto.SHA256, digest[:], func(ctx context.Context) error {
					return card.VerifyPIN(ctx, []byte("1234"))
				})
				if err != nil {
					t.Fatalf("Sign with %02X: %v", byte(key), err)
				}
				cert := sc.AuthCert()
				if key == beid.KeySignature {
					cert = sc.SignCert()
				}
				switch pub := cert.PublicKey.(type) {
				case *rsa.PublicKey:
					if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig.Raw); err != nil {
						t.Errorf("key %02X: %v", byte(key), err)
					}
				case *ecdsa.PublicKey:
					if !verifyRaw(pub, digest[:], sig.Raw) || !ecdsa.VerifyASN1(pub, digest[:], sig.DER) {
						t.Errorf("key %02X: signature does not verify", byte(key))
					}
				}
			}
			if err := card.VerifyPIN(ctx, []byte("0000")); err == nil {
				t.Error("wrong PIN accepted")
			}
			if sc.TriesLeft() != 2 {
				t.Errorf("TriesLeft = %d", sc.TriesLeft())
			}
		})
	}
}
