package sim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/asn1"
	"math/big"
	"slices"

	"github.com/cardbridge/cardbridge/apdu"
)

// Classes and instructions the applet knows (facts §1, §2, §5-§7).
const (
	claISO         = 0x00
	claProprietary = 0x80

	insGetCardData = 0xE4
	insLogOff      = 0xE6
)

// Key references (facts §6).
const (
	keyBasic = 0x81
	keyAuth  = 0x82
	keySign  = 0x83
)

func sw(s apdu.StatusWord) apdu.Response { return apdu.Response{SW: s} }

// process answers one command and records what kind of command it was for
// the non-repudiation rule.
func (c *Card) process(raw []byte) (apdu.Command, apdu.Response) {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		// Under T=0 a header and P3 that do not match the data sent are a
		// length error.
		if len(raw) >= 4 {
			cmd = apdu.Command{CLA: raw[0], INS: raw[1], P1: raw[2], P2: raw[3]}
		}
		c.s.pending = nil
		c.after(evOther)
		return cmd, sw(apdu.SWWrongLength)
	}
	if cmd.INS != apdu.InsGetResponse {
		// A T=0 card keeps response data only for the GET RESPONSE
		// that immediately follows.
		c.s.pending = nil
	}
	resp, ev := c.dispatch(cmd)
	c.after(ev)
	return cmd, resp
}

func (c *Card) after(ev event) {
	c.s.prev[1], c.s.prev[0] = c.s.prev[0], ev
}

func (c *Card) dispatch(cmd apdu.Command) (apdu.Response, event) {
	if cmd.CLA != claISO && cmd.CLA != claProprietary {
		return sw(apdu.SWClaNotSupported), evOther
	}
	if cmd.Extended {
		// T=0 has no extended lengths.
		return sw(apdu.SWWrongLength), evOther
	}
	type handler struct {
		cla byte
		fn  func(apdu.Command) (apdu.Response, event)
	}
	plain := func(fn func(apdu.Command) apdu.Response) func(apdu.Command) (apdu.Response, event) {
		return func(cmd apdu.Command) (apdu.Response, event) { return fn(cmd), evOther }
	}
	var h handler
	switch cmd.INS {
	case apdu.InsSelect:
		h = handler{claISO, plain(c.selectFile)}
	case apdu.InsReadBinary:
		h = handler{claISO, plain(c.readBinary)}
	case apdu.InsGetResponse:
		h = handler{claISO, plain(c.getResponse)}
	case apdu.InsVerify:
		h = handler{claISO, c.verify}
	case apdu.InsChangeReference:
		h = handler{claISO, plain(c.changePIN)}
	case apdu.InsMSE:
		h = handler{claISO, c.mse}
	case apdu.InsPSO:
		h = handler{claISO, func(cmd apdu.Command) (apdu.Response, event) { return c.pso(cmd), evPSO }}
	case apdu.InsInternalAuth:
		h = handler{claISO, plain(c.internalAuthenticate)}
	case apdu.InsGetChallenge:
		h = handler{claISO, plain(c.getChallenge)}
	case insGetCardData:
		h = handler{claProprietary, plain(c.getCardData)}
	case insLogOff:
		h = handler{claProprietary, plain(c.logOff)}
	case apdu.InsReadRecord:
		if c.profile != ProfileECC {
			return sw(apdu.SWInsNotSupported), evOther
		}
		h = handler{claProprietary, plain(c.readRecord)}
	default:
		return sw(apdu.SWInsNotSupported), evOther
	}
	if cmd.CLA != h.cla {
		return sw(apdu.SWClaNotSupported), evOther
	}
	if c.s.cardManager && cmd.INS != apdu.InsSelect {
		// The Card Manager knows none of the applet's commands; the
		// host has to select the applet again.
		return sw(apdu.SWInsNotSupported), evOther
	}
	return h.fn(cmd)
}

// le returns the expected length of a case-2 style command. Under T=0 a
// command without Le still carries P3=00, which means 256.
func le(cmd apdu.Command) int {
	if cmd.Le == 0 {
		return apdu.MaxShortLe
	}
	return cmd.Le
}

// respond hands out data produced by a case-4 command (PSO, INTERNAL
// AUTHENTICATE) or by READ RECORD. Without Le, as T=0 hosts send case-4
// commands, the card answers 61xx and keeps the data for GET RESPONSE
// (61 00 for 256 bytes or more). With Le, as javax.smartcardio and OpenSC
// send, the data comes back at once, up to Le bytes, the rest again behind
// 61xx (facts §3 GET RESPONSE, §6 PSO).
func (c *Card) respond(data []byte, le int) apdu.Response {
	if le == 0 {
		c.s.pending = data
		return sw(moreData(len(data)))
	}
	n := min(le, len(data))
	if n < len(data) {
		c.s.pending = data[n:]
		return apdu.Response{Data: data[:n], SW: moreData(len(data) - n)}
	}
	return apdu.Response{Data: data, SW: apdu.SWOK}
}

// moreData is 61xx for n bytes waiting; xx is 00 for 256 or more.
func moreData(n int) apdu.StatusWord {
	if n >= 256 {
		return 0x6100
	}
	return 0x6100 | apdu.StatusWord(n)
}

// exactLength is 6Cxx: the command must be repeated with Le=xx.
func exactLength(n int) apdu.StatusWord {
	return 0x6C00 | apdu.StatusWord(n&0xFF)
}

// selectFile is SELECT (facts §2): P1=02 selects a file ID in the current
// DF (also the MF, the current DF itself and its sibling DFs, so that DF00
// and DF01 can be reached from one another), P1=08 an absolute path with or
// without the leading 3F00, P1=04 the applet, DF(BELPIC) or DF(ID) by AID.
// P2 is 0C or 00; no FCI is ever returned. An empty AID selects the Card
// Manager, after which only a SELECT of the applet AID helps.
func (c *Card) selectFile(cmd apdu.Command) apdu.Response {
	if cmd.P2 != 0x0C && cmd.P2 != 0x00 {
		return sw(apdu.SWIncorrectP1P2)
	}
	if cmd.P1 == 0x04 {
		return c.selectAID(cmd.Data)
	}
	if c.s.cardManager {
		return sw(apdu.SWIncorrectP1P2) // the Card Manager selects by AID only
	}
	switch cmd.P1 {
	case 0x02:
		if len(cmd.Data) == 0 {
			return sw(apdu.SWWrongLength)
		}
		if len(cmd.Data) != 2 {
			return sw(apdu.SWLcInconsistent)
		}
		fid := uint16(cmd.Data[0])<<8 | uint16(cmd.Data[1])
		n := c.lookup(fid)
		if n == nil {
			return sw(apdu.SWFileNotFound)
		}
		c.setCurrent(n)
	case 0x08:
		if len(cmd.Data) == 0 {
			return sw(apdu.SWWrongLength)
		}
		if len(cmd.Data)%2 != 0 {
			return sw(apdu.SWLcInconsistent)
		}
		path := cmd.Data
		if path[0] == 0x3F && path[1] == 0x00 {
			path = path[2:] // real clients send the MF; the spec says to leave it out
		}
		n := c.k.mf
		for ; len(path) > 0; path = path[2:] {
			if !n.isDF {
				return sw(apdu.SWFileNotFound)
			}
			if n = n.child(uint16(path[0])<<8 | uint16(path[1])); n == nil {
				return sw(apdu.SWFileNotFound)
			}
		}
		c.setCurrent(n)
	default:
		return sw(apdu.SWIncorrectP1P2)
	}
	return sw(apdu.SWOK)
}

func (c *Card) selectAID(aid []byte) apdu.Response {
	switch {
	case len(aid) == 0:
		c.s.cardManager = true
		c.s.df, c.s.ef = nil, nil
	case bytes.Equal(aid, aidApplet):
		c.s.cardManager = false
		c.s.df, c.s.ef = c.k.mf, nil
	case c.s.cardManager:
		return sw(apdu.SWFileNotFound)
	case bytes.Equal(aid, aidBelpic):
		c.setCurrent(c.k.dfBelpic)
	case bytes.Equal(aid, aidID):
		c.setCurrent(c.k.dfID)
	default:
		return sw(apdu.SWFileNotFound)
	}
	return sw(apdu.SWOK)
}

// lookup finds a file ID the way SELECT P1=02 does.
func (c *Card) lookup(fid uint16) *node {
	df := c.s.df
	switch {
	case fid == fidMF:
		return c.k.mf
	case df.fid == fid:
		return df
	}
	if n := df.child(fid); n != nil {
		return n
	}
	if df.parent != nil {
		if n := df.parent.child(fid); n != nil && n.isDF {
			return n
		}
	}
	return nil
}

func (c *Card) setCurrent(n *node) {
	if n.isDF {
		c.s.df, c.s.ef = n, nil
		return
	}
	c.s.df, c.s.ef = n.parent, n
}

// readBinary is READ BINARY (facts §3): 6986 without a current EF, 6B00
// for an offset at or past the end (P1 bit 8 set gives such an offset),
// 6Cxx with xx the bytes left when Le asks for more, else the data. Le=00
// (or none, which T=0 sends as P3=00) means 256.
func (c *Card) readBinary(cmd apdu.Command) apdu.Response {
	if len(cmd.Data) > 0 {
		return sw(apdu.SWWrongLength)
	}
	ef := c.s.ef
	if ef == nil {
		return sw(apdu.SWNoCurrentEF)
	}
	off := int(cmd.P1)<<8 | int(cmd.P2)
	if off >= len(ef.data) {
		return sw(apdu.SWWrongP1P2)
	}
	n := le(cmd)
	if rest := len(ef.data) - off; n > rest {
		return sw(exactLength(rest)) // rest < n <= 256
	}
	return apdu.Response{Data: ef.data[off : off+n], SW: apdu.SWOK}
}

// getResponse is GET RESPONSE `00 C0 00 00 Le` (facts §3): 6985 when
// nothing waits, 6Cxx when Le asks for more than waits, else Le bytes with
// 61xx while more remain.
func (c *Card) getResponse(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		c.s.pending = nil
		return sw(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) > 0 {
		c.s.pending = nil
		return sw(apdu.SWWrongLength)
	}
	p := c.s.pending
	if p == nil {
		return sw(apdu.SWConditionsNotSatisfied)
	}
	n := le(cmd)
	if n > len(p) {
		return sw(exactLength(len(p))) // the data stays for the retry
	}
	if n < len(p) {
		c.s.pending = p[n:]
		return apdu.Response{Data: p[:n], SW: moreData(len(p) - n)}
	}
	c.s.pending = nil
	return apdu.Response{Data: p, SW: apdu.SWOK}
}

// getCardData is GET CARD DATA `80 E4 00 00 1C` (facts §7) and, on applet
// 1.8 only, `80 E4 00 01 1F` with the PIN tries left in byte 28. The Le
// must be exact: 6Cxx otherwise. 6B00 for other P1/P2, and for P2=01 on
// applet 1.7 (facts open uncertainty 7).
func (c *Card) getCardData(cmd apdu.Command) apdu.Response {
	if len(cmd.Data) > 0 {
		return sw(apdu.SWWrongLength)
	}
	var data []byte
	switch {
	case cmd.P1 == 0 && cmd.P2 == 0:
		data = c.k.cardData
	case cmd.P1 == 0 && cmd.P2 == 1 && c.profile == ProfileECC:
		data = append(bytes.Clone(c.k.cardData), byte(c.tries), 0xFF, 0xFF)
	default:
		return sw(apdu.SWWrongP1P2)
	}
	if le(cmd) != len(data) {
		return sw(exactLength(len(data)))
	}
	return apdu.Response{Data: data, SW: apdu.SWOK}
}

// verify is VERIFY `00 20 00 01 08 <block>` (facts §5). Without data it
// reports the PIN state without spending a try: 9000 when verified in this
// session, 63Cx when not, 6983 when blocked. A wrong PIN costs a try,
// answers 63Cx (63C0 on the last) and withdraws every access the PIN had
// granted. A block that is not a valid 2N block is a wrong PIN too: the
// applet manuals list no other answer for a failed verification (1.8
// reference manual Table 29: 9000, 63Cx, 6983, 6A86, 6A88), so a
// malformed block spends a try (the driver never sends one). The right PIN
// restores 3 tries, but a blocked PIN stays blocked (6983).
func (c *Card) verify(cmd apdu.Command) (apdu.Response, event) {
	if cmd.P1 != 0x00 {
		return sw(apdu.SWIncorrectP1P2), evVerifyCmd
	}
	if cmd.P2 != 0x01 {
		return sw(apdu.SWReferenceNotFound), evVerifyCmd
	}
	if len(cmd.Data) == 0 {
		switch {
		case c.tries == 0:
			return sw(apdu.SWAuthMethodBlocked), evVerifyCmd
		case c.s.verified:
			return sw(apdu.SWOK), evVerifyCmd
		}
		return sw(0x63C0 | apdu.StatusWord(c.tries)), evVerifyCmd
	}
	if len(cmd.Data) != 8 {
		return sw(apdu.SWWrongLength), evVerifyCmd
	}
	if c.tries == 0 {
		return sw(apdu.SWAuthMethodBlocked), evVerifyCmd
	}
	pin, ok := decodePINBlock(cmd.Data)
	if !ok || !c.checkPIN(pin) {
		if !ok {
			c.failPIN()
		}
		return sw(0x63C0 | apdu.StatusWord(c.tries)), evVerifyCmd
	}
	c.s.authBefore = c.s.verified
	c.s.verified = true
	c.authCount = 0
	return sw(apdu.SWOK), evVerified
}

// checkPIN compares pin with the card's PIN, spending a try and dropping
// PIN-granted access when it is wrong.
func (c *Card) checkPIN(pin []byte) bool {
	if subtle.ConstantTimeCompare(pin, c.pin) == 1 {
		c.tries = maxPINTries
		return true
	}
	c.failPIN()
	return false
}

// failPIN spends a try and drops PIN-granted access.
func (c *Card) failPIN() {
	c.tries--
	c.s.verified = false
}

// changePIN is CHANGE REFERENCE DATA `00 24 00 01 10 <old><new>` (facts
// §5): both blocks must be valid 2N blocks (6A80), the old PIN is checked
// like VERIFY does, and a right one sets the new PIN. Access rights are
// left as they were (not confirmed by the sources).
func (c *Card) changePIN(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return sw(apdu.SWIncorrectP1P2)
	}
	if cmd.P2 != 0x01 {
		return sw(apdu.SWReferenceNotFound)
	}
	if len(cmd.Data) != 16 {
		return sw(apdu.SWWrongLength)
	}
	if c.tries == 0 {
		return sw(apdu.SWAuthMethodBlocked)
	}
	oldPIN, ok1 := decodePINBlock(cmd.Data[:8])
	newPIN, ok2 := decodePINBlock(cmd.Data[8:])
	if !ok1 || !ok2 {
		return sw(apdu.SWIncorrectData)
	}
	if !c.checkPIN(oldPIN) {
		return sw(0x63C0 | apdu.StatusWord(c.tries))
	}
	c.pin = newPIN
	return sw(apdu.SWOK)
}

// decodePINBlock reads a GlobalPlatform 2N block (facts §5): nibble 2,
// the length 4..12, that many BCD digits, F nibbles to the end. It returns
// the PIN as ASCII digits.
func decodePINBlock(b []byte) ([]byte, bool) {
	if len(b) != 8 || b[0]>>4 != 0x2 {
		return nil, false
	}
	n := int(b[0] & 0x0F)
	if n < 4 || n > 12 {
		return nil, false
	}
	pin := make([]byte, 0, n)
	for i := range 14 { // nibbles after the control byte
		v := b[1+i/2] >> 4
		if i%2 == 1 {
			v = b[1+i/2] & 0x0F
		}
		switch {
		case i < n && v <= 9:
			pin = append(pin, '0'+v)
		case i >= n && v == 0xF:
		default:
			return nil, false
		}
	}
	return pin, true
}

// inputLengths gives the input lengths PSO accepts for an algorithm
// reference on a profile (facts §6 table), and whether the profile knows
// the algorithm at all. RSA algorithm 01 takes a DigestInfo of any length
// the key can pad, which a nil slice stands for.
func inputLengths(p Profile, alg byte) ([]int, bool) {
	if p == ProfileECC {
		switch alg {
		case 0x01, 0x08: // ECDSA with SHA-256, SHA3-256
			return []int{32}, true
		case 0x02, 0x10: // SHA-384, SHA3-384
			return []int{48}, true
		case 0x04, 0x20: // SHA-512, SHA3-512
			return []int{64}, true
		case 0x40: // hash not specified
			return []int{20, 28, 32, 48, 64}, true
		}
		return nil, false
	}
	switch alg {
	case 0x01: // PKCS#1 v1.5, DigestInfo from the host
		return nil, true
	case 0x02, 0x10: // PKCS#1 v1.5 SHA-1, PSS SHA-1
		return []int{20}, true
	case 0x04: // PKCS#1 v1.5 MD5
		return []int{16}, true
	case 0x08, 0x20: // PKCS#1 v1.5 SHA-256, PSS SHA-256
		return []int{32}, true
	}
	return nil, false
}

// mse is MANAGE SECURITY ENVIRONMENT SET `00 22 41 B6 05 04 80 <alg> 84
// <key>` (facts §6): key 82 or 83 (and 81, the basic key, on 1.8), an
// algorithm from the profile's table. 6A88 for an unknown key, 6A80 for an
// unsupported algorithm or a malformed template. A failed MSE leaves no
// environment set.
func (c *Card) mse(cmd apdu.Command) (apdu.Response, event) {
	c.s.se = securityEnv{}
	if cmd.P1 != 0x41 || cmd.P2 != 0xB6 {
		return sw(apdu.SWIncorrectP1P2), evOther
	}
	d := cmd.Data
	if len(d) == 0 {
		return sw(apdu.SWWrongLength), evOther
	}
	if int(d[0]) != len(d)-1 {
		return sw(apdu.SWIncorrectData), evOther
	}
	var alg, key int = -1, -1
	// After the length byte come tag-value pairs without length bytes
	// of their own: 80 <alg> 84 <key>, a BELPIC peculiarity.
	for d = d[1:]; len(d) > 0; d = d[2:] {
		if len(d) < 2 {
			return sw(apdu.SWIncorrectData), evOther
		}
		switch d[0] {
		case 0x80:
			alg = int(d[1])
		case 0x84:
			key = int(d[1])
		default:
			return sw(apdu.SWIncorrectData), evOther
		}
	}
	if alg < 0 || key < 0 {
		return sw(apdu.SWIncorrectData), evOther
	}
	switch {
	case key == keyAuth || key == keySign:
	case key == keyBasic && c.profile == ProfileECC:
	default:
		return sw(apdu.SWReferenceNotFound), evOther
	}
	if _, ok := inputLengths(c.profile, byte(alg)); !ok {
		return sw(apdu.SWIncorrectData), evOther
	}
	c.s.se = securityEnv{set: true, key: byte(key), alg: byte(alg)}
	return sw(apdu.SWOK), evMSE
}

// pso is PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE `00 2A 9E
// 9A Lc <hash>` (facts §5, §6). It needs an environment set by MSE (6985)
// for key 82 or 83. Key 82 needs a successful VERIFY earlier in the
// session; key 83 one right before (see nonRepAllowed). Missing access is
// 6982. The input must have the algorithm's hash length (6700). A
// non-repudiation signature also ends the PIN-once access of key 82 that
// its own VERIFY granted ("PIN mixed"). The signature is PKCS#1 v1.5 or PSS for RSA, r||s for ECDSA.
func (c *Card) pso(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x9E || cmd.P2 != 0x9A {
		return sw(apdu.SWIncorrectP1P2)
	}
	se := c.s.se
	if !se.set || se.key == keyBasic {
		return sw(apdu.SWConditionsNotSatisfied)
	}
	switch se.key {
	case keyAuth:
		if !c.s.verified {
			return sw(apdu.SWSecurityStatus)
		}
	case keySign:
		if !c.nonRepAllowed() {
			return sw(apdu.SWSecurityStatus)
		}
	}
	key := c.k.pki.AuthKey
	if se.key == keySign {
		key = c.k.pki.SignKey
	}
	sig, status := c.sign(key, se.alg, cmd.Data)
	if status != apdu.SWOK {
		return sw(status)
	}
	if se.key == keySign && !c.s.authBefore {
		// "PIN mixed", on applet 1.7 as on 1.8: the VERIFY spent on
		// a non-repudiation signature grants the authentication key
		// nothing. Access the authentication key held before that
		// VERIFY stays.
		c.s.verified = false
	}
	return c.respond(sig, cmd.Le)
}

// nonRepAllowed tells whether the non-repudiation key may sign now ("PIN
// just before"). On applet 1.7 the successful VERIFY must be the command
// right before the PSO; on 1.8 one command may stand between, as long as it
// is neither a VERIFY nor a PSO (a reset ends the session anyway).
func (c *Card) nonRepAllowed() bool {
	p := c.s.prev
	if p[0] == evVerified {
		return true
	}
	return c.profile == ProfileECC && p[1] == evVerified && p[0] != evVerifyCmd && p[0] != evPSO
}

// DigestInfo prefixes the card puts before a bare hash (facts §6).
var (
	digestInfoMD5    = []byte{0x30, 0x20, 0x30, 0x0C, 0x06, 0x08, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10}
	digestInfoSHA1   = []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14}
	digestInfoSHA256 = []byte{0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
)

// sign makes the signature for algorithm alg over in, or says why not.
func (c *Card) sign(key crypto.Signer, alg byte, in []byte) ([]byte, apdu.StatusWord) {
	if len(in) == 0 {
		return nil, apdu.SWWrongLength
	}
	lens, ok := inputLengths(c.profile, alg)
	if !ok || lens != nil && !slices.Contains(lens, len(in)) {
		return nil, apdu.SWWrongLength
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var err error
		var sig []byte
		switch alg {
		case 0x01:
			if len(in) > k.Size()-11 {
				return nil, apdu.SWWrongLength
			}
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, 0, in)
		case 0x02:
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, 0, append(bytes.Clone(digestInfoSHA1), in...))
		case 0x04:
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, 0, append(bytes.Clone(digestInfoMD5), in...))
		case 0x08:
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, 0, append(bytes.Clone(digestInfoSHA256), in...))
		case 0x10:
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA1, in, &rsa.PSSOptions{SaltLength: 20})
		case 0x20:
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, in, &rsa.PSSOptions{SaltLength: 32})
		default:
			return nil, apdu.SWIncorrectData
		}
		if err != nil {
			return nil, apdu.SWIncorrectData
		}
		return sig, apdu.SWOK
	case *ecdsa.PrivateKey:
		sig, err := signRaw(k, in)
		if err != nil {
			return nil, apdu.SWIncorrectData
		}
		return sig, apdu.SWOK
	}
	return nil, apdu.SWNoDiagnosis
}

// signRaw signs hash with ECDSA and returns r||s, each half as long as the
// curve order, as the applet does (facts §6).
func signRaw(k *ecdsa.PrivateKey, hash []byte) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand.Reader, k, hash)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		return nil, err
	}
	size := (k.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// internalAuthenticate is INTERNAL AUTHENTICATE with the basic key on
// applet 1.8, `00 88 <alg> 81 Lc 94 <len> <challenge>` (facts §6, §8): no
// PIN and no MSE needed; the answer is r||s over the challenge used as the
// hash. The 1.7 profile has no key 81 (6A88). After 5000 uses the command
// answers 6982 until a successful VERIFY (facts §6; that status word is not
// documented).
func (c *Card) internalAuthenticate(cmd apdu.Command) apdu.Response {
	if cmd.P2 != keyBasic || c.k.basicKey == nil {
		return sw(apdu.SWReferenceNotFound)
	}
	lens, ok := inputLengths(ProfileECC, cmd.P1)
	if !ok {
		return sw(apdu.SWIncorrectP1P2)
	}
	d := cmd.Data
	if len(d) == 0 {
		return sw(apdu.SWWrongLength)
	}
	if len(d) < 2 || d[0] != 0x94 || int(d[1]) != len(d)-2 || !slices.Contains(lens, len(d)-2) {
		return sw(apdu.SWIncorrectData)
	}
	if c.authCount >= internalAuthLimit {
		return sw(apdu.SWSecurityStatus)
	}
	c.authCount++
	sig, err := signRaw(c.k.basicKey, d[2:])
	if err != nil {
		return sw(apdu.SWNoDiagnosis)
	}
	// The applet keeps one security environment for every key: a card
	// authentication leaves none set, and the next PSO needs a new MSE
	// SET (6985 otherwise).
	c.s.se = securityEnv{}
	return c.respond(sig, cmd.Le)
}

// getChallenge is GET CHALLENGE `00 84 00 00 Le`, which commons-eid uses
// though the applet manuals do not list it (facts open uncertainty 8).
func (c *Card) getChallenge(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) > 0 {
		return sw(apdu.SWWrongLength)
	}
	b := make([]byte, le(cmd))
	if _, err := rand.Read(b); err != nil {
		return sw(apdu.SWNoDiagnosis)
	}
	return apdu.Response{Data: b, SW: apdu.SWOK}
}

// logOff is LOG OFF `80 E6 00 00` (facts §7): it withdraws every access
// the PIN granted.
func (c *Card) logOff(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	if len(cmd.Data) > 0 {
		return sw(apdu.SWWrongLength)
	}
	c.s.verified = false
	c.s.prev = [2]event{} // nor does a VERIFY before it count as "just before"
	return sw(apdu.SWOK)
}

// readRecord is the applet 1.8 READ RECORD `80 B2 <first> <last> Le`
// (facts §3): the TLV fields of the selected identity or address file with
// tags first..last, as stored. 6981 when the current EF is another file,
// 6A83 when no tag matches or last < first, 6Cxx when Le is more than
// there is; Le=00 gives everything, behind 61xx past 256 bytes.
func (c *Card) readRecord(cmd apdu.Command) apdu.Response {
	if len(cmd.Data) > 0 {
		return sw(apdu.SWWrongLength)
	}
	ef := c.s.ef
	if ef == nil {
		return sw(apdu.SWNoCurrentEF)
	}
	if ef.fid != fidIdent && ef.fid != fidAddr || ef.parent != c.k.dfID {
		return sw(apdu.SWCommandIncompatible)
	}
	if cmd.P2 < cmd.P1 {
		return sw(apdu.SWRecordNotFound)
	}
	var out []byte
	for b := ef.data; len(b) >= 2; {
		tag, n := b[0], int(b[1])
		if tag == 0 && n == 0 {
			break // zero padding
		}
		if 2+n > len(b) {
			break
		}
		if tag >= cmd.P1 && tag <= cmd.P2 {
			out = append(out, b[:2+n]...)
		}
		b = b[2+n:]
	}
	if out == nil {
		return sw(apdu.SWRecordNotFound)
	}
	n := le(cmd)
	if n < apdu.MaxShortLe && n > len(out) {
		return sw(exactLength(len(out)))
	}
	return c.respond(out, n)
}
