package bridge

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// method is one protocol method.
type method struct {
	fn func(ctx context.Context, rc *reqCtx, params []byte) (any, error)
	// consent: the method uses the card, so the user's consent to the
	// origin, given at the handshake, must still be in force.
	consent bool
	// prompts: the method always shows a dialog, so it gets the longer
	// timeout.
	prompts bool
	// inline: the method neither waits nor touches the card; it is
	// answered by the read loop and does not count as pending.
	inline bool
}

// lookupMethod returns the method called name.
func lookupMethod(name string) (method, bool) {
	switch name {
	case "version":
		return method{fn: mVersion, inline: true}, true
	case "readers":
		return method{fn: mReaders, consent: true}, true
	case "card":
		return method{fn: mCard, consent: true}, true
	case "identity":
		return method{fn: mIdentity, consent: true}, true
	case "address":
		return method{fn: mAddress, consent: true}, true
	case "photo":
		return method{fn: mPhoto, consent: true}, true
	case "certificates":
		return method{fn: mCertificates, consent: true}, true
	case "pin.verify":
		return method{fn: mPINVerify, consent: true, prompts: true}, true
	case "authenticate":
		return method{fn: mAuthenticate, consent: true, prompts: true}, true
	case "sign":
		return method{fn: mSign, consent: true, prompts: true}, true
	}
	return method{}, false
}

// reqCtx is what a method knows about its request besides params.
type reqCtx struct {
	conn   *session
	method string
	// guard holds back the commands that spend a PIN try or use a key
	// once the request's context has ended (see cardGuard).
	guard *cardGuard

	// readerMu guards reader, which the watchdog that answers a request
	// early (conn.run) reads while the method may still run.
	readerMu sync.Mutex
	reader   string // the reader the request used, for the log

	// logAttrs are extra key/value pairs for the request's log line.
	// Nothing secret goes here: no PIN, no full national number.
	logAttrs []any
	// afterSend runs once the response is queued.
	afterSend func()
}

func (rc *reqCtx) setReader(name string) {
	rc.readerMu.Lock()
	defer rc.readerMu.Unlock()
	rc.reader = name
}

func (rc *reqCtx) readerName() string {
	rc.readerMu.Lock()
	defer rc.readerMu.Unlock()
	return rc.reader
}

func (rc *reqCtx) core() *Core { return rc.conn.core }

// decodeParams decodes params into v. Unknown members are ignored so that
// later protocol versions can add optional ones.
func decodeParams(params []byte, v any) error {
	if err := json.Unmarshal(params, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return newError(CodeBadRequest, "invalid params: wrong type for "+te.Field)
		}
		return newError(CodeBadRequest, "invalid params")
	}
	return nil
}

type readerParams struct {
	Reader *string `json:"reader"`
}

// resolve finds the reader a request is about.
//
// While a page is subscribed to reader events, the server's watcher holds
// the readers' state as the smart card service last reported it, and
// resolve picks the reader from there: that spares each request a round
// of listing (SCardListReaders and SCardGetStatusChange). The state lags a
// change only by the moment the change takes to reach the watcher, the
// same race a listing has with a card pulled right after it; and the card
// session, not the list, is the authority on the card (Open fails on an
// empty reader, and the PIN methods check the card's serial). Only a
// successful choice is taken from the watcher's state: when it finds no
// reader, no card or several, or no watcher runs, the readers are listed.
func (rc *reqCtx) resolve(ctx context.Context, reader *string) (ReaderInfo, error) {
	s := rc.core()
	if list, ok := s.hub.readers(); ok {
		if info, e := chooseReader(list, reader); e == nil {
			rc.setReader(info.Name)
			return info, rc.conn.onceAllows(list, info)
		}
	}
	list, err := s.cfg.Readers.List(ctx)
	if err != nil {
		return ReaderInfo{}, err
	}
	info, e := chooseReader(list, reader)
	if e != nil {
		return ReaderInfo{}, e
	}
	rc.setReader(info.Name)
	return info, rc.conn.onceAllows(list, info)
}

// chooseReader returns the reader called name, or with no name the one
// reader holding a Belgian eID card.
func chooseReader(list []ReaderInfo, name *string) (ReaderInfo, *Error) {
	if name != nil {
		return findReader(list, *name)
	}
	return pickReader(list)
}

// readCard resolves the reader from params and runs fn on its card.
func readCard[T any](ctx context.Context, rc *reqCtx, params []byte, fn func(ctx context.Context, info ReaderInfo, card *cachedCard) (T, error)) (T, error) {
	var p readerParams
	if err := decodeParams(params, &p); err != nil {
		var zero T
		return zero, err
	}
	info, err := rc.resolve(ctx, p.Reader)
	if err != nil {
		var zero T
		return zero, err
	}
	return withCard(ctx, rc, info, func(ctx context.Context, _ CardSession, card *cachedCard) (T, error) {
		return fn(ctx, info, card)
	})
}

func mVersion(_ context.Context, rc *reqCtx, _ []byte) (any, error) {
	return map[string]any{"protocol": ProtocolVersion, "version": rc.core().cfg.Version, "os": runtime.GOOS}, nil
}

func mReaders(ctx context.Context, rc *reqCtx, _ []byte) (any, error) {
	list, err := rc.core().cfg.Readers.List(ctx)
	if err != nil {
		return nil, err
	}
	// Subscribe once the answer is queued, so that events follow it.
	rc.afterSend = func() { rc.core().hub.subscribe(rc.conn, list) }
	return map[string]any{"readers": readersJSON(list)}, nil
}

func mCard(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	var p readerParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	info, err := rc.resolve(ctx, p.Reader)
	if err != nil {
		return nil, err
	}
	type cardInfo struct {
		atr  []byte
		data *beid.CardData
		id   *beid.Identity
	}
	ci, err := withCard(ctx, rc, info, func(ctx context.Context, sess CardSession, card *cachedCard) (cardInfo, error) {
		cd, err := card.CardData(ctx)
		if err != nil {
			return cardInfo{}, err
		}
		id, _, err := card.Identity(ctx)
		// The session's ATR is the card's own; the reader list's may
		// predate a card swap by a moment.
		atr := sessionATR(sess)
		if atr == nil {
			atr = info.ATR
		}
		return cardInfo{atr, cd, id}, err
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"reader":     info.Name,
		"type":       "beid",
		"applet":     appletString(ci.data.AppletVersion),
		"cardNumber": ci.id.CardNumber,
		"serial":     hexUpper(ci.data.Serial),
		"atr":        hexUpper(ci.atr),
	}, nil
}

// The read methods take the card's files in the card session and check
// their integrity after it, so that the reader is free for the next
// request during the signature checks.

func mIdentity(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	c, err := readCard(ctx, rc, params, func(ctx context.Context, _ ReaderInfo, card *cachedCard) (*beid.Contents, error) {
		c := &beid.Contents{}
		var err error
		if c.Identity, c.IdentityFile, err = card.Identity(ctx); err != nil {
			return nil, err
		}
		if err := readSignatureChain(ctx, card, c); err != nil {
			return nil, err
		}
		return c, challengeBasicKey(ctx, card, c)
	})
	if err != nil {
		return nil, err
	}
	in := beid.VerifyIntegrity(c)
	rc.logAttrs = append(rc.logAttrs, "nationalNumber", maskNationalNumber(c.Identity.NationalNumber))
	integrity := integrityOf(in.IdentitySignature, in.RRNCertificate, in.BasicKeyHash, cardAuthFailure(in.CardAuthentication))
	integrity.Genuine = genuineOf(in.CardAuthentication)
	return map[string]any{
		"identity":  c.Identity, // *beid.Identity marshals to the protocol form
		"integrity": integrity,
	}, nil
}

func mAddress(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	c, err := readCard(ctx, rc, params, func(ctx context.Context, _ ReaderInfo, card *cachedCard) (*beid.Contents, error) {
		c := &beid.Contents{}
		var err error
		if c.Address, c.AddressFile, err = card.Address(ctx); err != nil {
			return nil, err
		}
		if c.AddressSignature, err = card.ReadFile(ctx, beid.FileAddressSignature); err != nil {
			return nil, err
		}
		return c, readSignatureChain(ctx, card, c)
	})
	if err != nil {
		return nil, err
	}
	in := beid.VerifyIntegrity(c)
	return map[string]any{
		"address":   c.Address,
		"integrity": integrityOf(in.AddressSignature, in.RRNCertificate),
	}, nil
}

func mPhoto(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	c, err := readCard(ctx, rc, params, func(ctx context.Context, _ ReaderInfo, card *cachedCard) (*beid.Contents, error) {
		c := &beid.Contents{}
		var err error
		if c.Photo, err = card.Photo(ctx); err != nil {
			return nil, err
		}
		// The photo is trusted through its hash in the signed identity
		// file, so that signature is part of the photo's integrity.
		if c.Identity, c.IdentityFile, err = card.Identity(ctx); err != nil {
			return nil, err
		}
		return c, readSignatureChain(ctx, card, c)
	})
	if err != nil {
		return nil, err
	}
	in := beid.VerifyIntegrity(c)
	return map[string]any{
		// encoding/json writes a []byte as standard base64 with padding,
		// the protocol's form, straight into its buffer: no string copy
		// of a photo of several kilobytes per request.
		"photo":     c.Photo,
		"mimeType":  "image/jpeg",
		"integrity": integrityOf(in.PhotoHash, in.IdentitySignature, in.RRNCertificate),
	}, nil
}

// readSignatureChain reads what checking an RRN signature needs: the
// identity signature file (the address signature covers it too), the RRN
// certificate and the card's root certificate.
func readSignatureChain(ctx context.Context, card *cachedCard, c *beid.Contents) error {
	var err error
	if c.IdentitySignature, err = card.ReadFile(ctx, beid.FileIdentitySignature); err != nil {
		return err
	}
	if c.RRNCert, err = card.Certificate(ctx, beid.FileRRNCert); err != nil {
		return err
	}
	c.RootCert, err = card.Certificate(ctx, beid.FileRootCert)
	return err
}

// challengeBasicKey reads the basic public key and has the card sign a
// challenge with it, when the signed identity file names a basic key
// (applet 1.8): the card genuineness check. A card that refuses the
// challenge with a status word fails the check, not the request.
func challengeBasicKey(ctx context.Context, card *cachedCard, c *beid.Contents) error {
	if c.Identity == nil || c.Identity.BasicKeyHash == nil {
		return nil
	}
	var err error
	if c.BasicPublicKey, err = card.ReadFile(ctx, beid.FileBasicPublicKey); err != nil {
		return err
	}
	c.BasicKeyChallenge, err = card.ChallengeBasicKey(ctx)
	var se *apdu.StatusError
	if errors.As(err, &se) {
		return nil // no answer to verify: VerifyIntegrity reports the check failed
	}
	return err
}

func mCertificates(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	return readCard(ctx, rc, params, func(ctx context.Context, _ ReaderInfo, card *cachedCard) (map[string]any, error) {
		out := map[string]any{}
		for _, f := range []struct {
			key  string
			file beid.File
		}{
			{"authentication", beid.FileAuthCert},
			{"signing", beid.FileSignCert},
			{"ca", beid.FileCACert},
			{"root", beid.FileRootCert},
			{"rrn", beid.FileRRNCert},
		} {
			cert, err := card.Certificate(ctx, f.file)
			switch {
			case err == nil:
				out[f.key] = cert.Raw // base64 by encoding/json, as the photo
			case errors.Is(err, beid.ErrNoCertificate), errors.Is(err, apdu.ErrFileNotFound):
				// Children's cards carry no signing (or authentication)
				// certificate.
				out[f.key] = nil
			default:
				return nil, err
			}
		}
		return out, nil
	})
}

// pinGate is a PIN verification prepared before the card session that
// uses it: tries left were read and the dialogs answered without holding
// the card, so that a slow user does not block the reader for others.
type pinGate struct {
	serial    []byte // card the dialogs were about
	pinpad    bool
	lang      string // Config.Language, for the pinpad reader's prompts
	pin       []byte
	tries     int  // tries left the dialogs showed; -1 unknown
	confirmed bool // the user took the risk of a last (or unknown) try
	verified  bool // verify was called, so the card may hold a verified PIN
	unlock    func()
	req       PINRequest
	core      *Core
}

// wipe wipes the PIN and lets the reader's next PIN flow start.
func (g *pinGate) wipe() {
	wipe(g.pin)
	if g.unlock != nil {
		g.unlock()
		g.unlock = nil
	}
}

// preparePIN reads the tries left and asks for the PIN. Nothing it does
// costs a try: a blocked PIN, a refused last try or a cancelled dialog end
// the request before any VERIFY.
//
// One PIN flow at a time per reader, from reading the tries to the
// VERIFY (the caller's wipe ends it): a second request that read the
// tries while the first one's dialog was open would show a count that
// the first one's wrong PIN makes false, and three at once would block
// the card with no last-try warning.
func (rc *reqCtx) preparePIN(ctx context.Context, info ReaderInfo, purpose, docName string) (g *pinGate, err error) {
	unlock, err := rc.core().lockPIN(ctx, info.Name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	type state struct {
		serial []byte
		pinpad bool
		tries  int
	}
	st, err := withCard(ctx, rc, info, func(ctx context.Context, sess CardSession, card *cachedCard) (state, error) {
		cd, err := card.CardData(ctx)
		if err != nil {
			return state{}, err
		}
		tries, err := card.PINTriesLeft(ctx)
		if errors.Is(err, beid.ErrUnsupported) {
			// Applet 1.1 cannot tell without spending a try.
			tries, err = -1, nil
		}
		return state{serial: bytes.Clone(cd.Serial), pinpad: sess.Pinpad() != nil, tries: tries}, err
	})
	if err != nil {
		return nil, err
	}
	s := rc.core()
	g = &pinGate{serial: st.serial, pinpad: st.pinpad, lang: s.cfg.Language, tries: st.tries, core: s}
	req := PINRequest{Origin: rc.conn.origin, Reader: info.Name, Purpose: purpose, TriesLeft: st.tries, DocumentName: docName}
	g.req = req
	// An applet 1.1 card cannot tell its tries without spending one: the
	// next one may be the last, so the user is warned as for the last.
	if st.tries == 1 || st.tries < 0 {
		var ok bool
		err := s.askUser(rc.conn, func(offer bool, ready func() error) (bool, error) {
			r := req
			r.OfferBlock = offer
			var err error
			ok, err = s.prompts.confirmLastTry(ctx, rc.conn.ctx, ready, r)
			return ok, err
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &Error{Code: CodePINLastTry, Message: "one PIN try may be left and the user chose not to use it",
				Data: map[string]any{"triesLeft": st.tries}}
		}
		g.confirmed = true
	}
	if g.pinpad {
		// The keypad entry stands for the PIN dialog, under its
		// back-off (verify records how the entry ended).
		r := s.refusals.Load()
		if err := r.DialogPaused(rc.conn.origin, time.Now()); err != nil {
			return nil, err
		}
	} else {
		err := s.askUser(rc.conn, func(offer bool, ready func() error) (bool, error) {
			r := req
			r.OfferBlock = offer
			pin, err := s.prompts.pin(ctx, rc.conn.ctx, ready, r)
			if err != nil {
				wipe(pin)
				return false, err
			}
			if len(pin) == 0 {
				return false, ErrPromptCancelled
			}
			g.pin = pin
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	g.unlock = unlock
	return g, nil
}

// verify presents the PIN; it is the verify callback of beid.Card.Sign.
// The card keeps a verified PIN until reset, so the session is logged off
// when the caller's session ends: no other application (nor a later
// request) can use the authentication key on the strength of this PIN.
func (g *pinGate) verify(ctx context.Context, sess CardSession, card *cachedCard) error {
	g.verified = true
	if g.pinpad {
		// The keypad cannot say who asks: a dialog without input names
		// the site for as long as the entry lasts.
		nctx, stop := context.WithCancel(ctx)
		shown := make(chan struct{})
		go func() {
			defer close(shown)
			_ = g.core.prompts.p.PinpadNotice(nctx, g.req)
		}()
		err := card.VerifyPINPinpad(ctx, sess.Pinpad(), g.lang)
		stop()
		<-shown
		switch {
		case err == nil:
			g.core.noteAnswer(g.req.Origin, true)
		case errors.Is(err, beid.ErrPinpadCancelled), errors.Is(err, beid.ErrPinpadTimeout):
			g.core.noteAnswer(g.req.Origin, false)
		}
		return err
	}
	return card.VerifyPIN(ctx, g.pin)
}

// sign is the card side of authenticate and sign: on the card the PIN was
// asked for, it reads the key's certificate, lets digestFor choose the
// hash and digest from it, and signs with the PIN verified right before
// the signature. The card is logged off whatever happens.
func (g *pinGate) sign(ctx context.Context, sess CardSession, card *cachedCard, certFile beid.File, key beid.Key,
	digestFor func(*x509.Certificate) (crypto.Hash, []byte, error)) (*x509.Certificate, *beid.Signature, error) {
	if err := g.sameCard(ctx, card); err != nil {
		return nil, nil, err
	}
	defer g.logOff(ctx, sess, card)
	cert, err := card.Certificate(ctx, certFile)
	if err != nil {
		return nil, nil, err
	}
	h, digest, err := digestFor(cert)
	if err != nil {
		return nil, nil, err
	}
	sig, err := card.Sign(ctx, key, h, digest, func(ctx context.Context) error {
		return g.verify(ctx, sess, card)
	})
	if err != nil {
		return nil, nil, err
	}
	return cert, sig, nil
}

// logOff ends the PIN-verified state, if verify ran, even when ctx has
// ended: leaving the card unlocked is worse than a late command.
// When LOG OFF fails, the card is reset as the session ends instead.
func (g *pinGate) logOff(ctx context.Context, sess CardSession, card *cachedCard) {
	if !g.verified {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if card.LogOff(ctx) != nil {
		// A removed card has nothing left to log off; any other
		// failure may leave the PIN verified.
		if gs, ok := sess.(*guardedSession); ok {
			gs.reset = true
		}
	}
}

// sameCard makes sure the card in the reader is still the one the user
// was asked about: it could have been swapped while a dialog was open.
// In the same card session as the VERIFY that follows, it reads the tries
// left again: another program may have spent some while the dialogs were
// open, and a VERIFY on fewer tries than the user was shown, or on the
// last one unconfirmed, is not sent.
func (g *pinGate) sameCard(ctx context.Context, card *cachedCard) error {
	cd, err := card.CardData(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(cd.Serial, g.serial) {
		return &Error{Code: CodeCardRemoved, Message: "the card was replaced by another one"}
	}
	if g.tries < 0 {
		return nil // applet 1.1: the user confirmed an unknown count
	}
	tries, err := card.PINTriesLeft(ctx)
	if err != nil {
		return err
	}
	if tries < g.tries || (tries == 1 && !g.confirmed) {
		return &Error{Code: CodePINLastTry, Message: "PIN tries were used since the user was asked; nothing was sent to the card",
			Data: map[string]any{"triesLeft": tries}}
	}
	return nil
}

func mPINVerify(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	var p readerParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	info, err := rc.resolve(ctx, p.Reader)
	if err != nil {
		return nil, err
	}
	g, err := rc.preparePIN(ctx, info, PurposeVerify, "")
	if err != nil {
		return nil, err
	}
	defer g.wipe()
	_, err = withCard(ctx, rc, info, func(ctx context.Context, sess CardSession, card *cachedCard) (struct{}, error) {
		if err := g.sameCard(ctx, card); err != nil {
			return struct{}{}, err
		}
		defer g.logOff(ctx, sess, card)
		return struct{}{}, g.verify(ctx, sess, card)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"verified": true}, nil
}

// Web eID token constants. The format string is the one the Web eID
// application emits; validators accept any "web-eid:1" minor version.
const (
	webEIDFormat = "web-eid:1.0"
	// webEIDFormatWithSigning is the format of a token that carries the
	// signing certificate (unverifiedSigningCertificates).
	webEIDFormatWithSigning = "web-eid:1.1"
	minNonceLen             = 44
	maxNonceLen             = 128
	maxDocNameLen           = 200
	appVersionBase          = "https://cardbridge.invalid/releases/"
)

// webEIDAlgorithm returns the JWA name and hash for a certificate key:
// ES256/384/512 by curve, RS256 for RSA.
func webEIDAlgorithm(pub any) (string, crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", crypto.SHA256, nil
		case elliptic.P384():
			return "ES384", crypto.SHA384, nil
		case elliptic.P521():
			return "ES512", crypto.SHA512, nil
		}
	case *rsa.PublicKey:
		return "RS256", crypto.SHA256, nil
	}
	return "", 0, &Error{Code: CodeCardError, Message: "unsupported authentication key type"}
}

// WebEIDSignedValue returns what a Web eID v1 token signs: hash(origin)
// followed by hash(nonce), with the hash of the token's algorithm. The card
// signs this value's hash, as JWS does.
func WebEIDSignedValue(h crypto.Hash, origin, nonce string) []byte {
	ho := h.New()
	ho.Write([]byte(origin))
	hn := h.New()
	hn.Write([]byte(nonce))
	return hn.Sum(ho.Sum(nil))
}

func mAuthenticate(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	var p struct {
		Reader         *string `json:"reader"`
		ChallengeNonce string  `json:"challengeNonce"`
		// GetSigningCertificate asks for a web-eid:1.1 token that also
		// carries the signing certificate, as Web eID's flag of that
		// name does, saving the portal a certificates round trip.
		GetSigningCertificate bool `json:"getSigningCertificate"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if n := len(p.ChallengeNonce); n < minNonceLen || n > maxNonceLen || !printableASCII(p.ChallengeNonce) {
		return nil, newError(CodeBadRequest, fmt.Sprintf("challengeNonce must be %d to %d printable ASCII characters", minNonceLen, maxNonceLen))
	}
	info, err := rc.resolve(ctx, p.Reader)
	if err != nil {
		return nil, err
	}
	g, err := rc.preparePIN(ctx, info, PurposeAuthenticate, "")
	if err != nil {
		return nil, err
	}
	defer g.wipe()
	origin, appVersion := rc.conn.origin, appVersionBase+rc.core().cfg.Version
	return withCard(ctx, rc, info, func(ctx context.Context, sess CardSession, card *cachedCard) (map[string]any, error) {
		var alg string
		cert, sig, err := g.sign(ctx, sess, card, beid.FileAuthCert, beid.KeyAuthentication, func(cert *x509.Certificate) (crypto.Hash, []byte, error) {
			var h crypto.Hash
			var err error
			if alg, h, err = webEIDAlgorithm(cert.PublicKey); err != nil {
				return 0, nil, err
			}
			// The origin is the one of the handshake, never one the page
			// names: that is what binds the token to the site.
			d := h.New()
			d.Write(WebEIDSignedValue(h, origin, p.ChallengeNonce))
			return h, d.Sum(nil), nil
		})
		if err != nil {
			return nil, err
		}
		token := map[string]any{
			"unverifiedCertificate": base64.StdEncoding.EncodeToString(cert.Raw),
			"algorithm":             alg,
			"signature":             base64.StdEncoding.EncodeToString(sig.Raw),
			"format":                webEIDFormat,
			"appVersion":            appVersion,
		}
		if p.GetSigningCertificate {
			sc, err := card.Certificate(ctx, beid.FileSignCert)
			if err != nil {
				return nil, err
			}
			token["format"] = webEIDFormatWithSigning
			token["unverifiedSigningCertificates"] = []map[string]any{{
				"certificate":                  base64.StdEncoding.EncodeToString(sc.Raw),
				"supportedSignatureAlgorithms": supportedSignatureAlgorithms(sc),
			}}
		}
		return token, nil
	})
}

// supportedSignatureAlgorithms lists what the sign method can do with the
// key of cert, in the form of Web eID's 1.1 token.
func supportedSignatureAlgorithms(cert *x509.Certificate) []map[string]string {
	var out []map[string]string
	for _, h := range []string{"SHA-256", "SHA-384", "SHA-512"} {
		out = append(out, signatureAlgorithm(cert, h))
	}
	return out
}

// hashByName maps the protocol's hash names to hashes.
func hashByName(name string) (crypto.Hash, bool) {
	switch name {
	case "SHA-256":
		return crypto.SHA256, true
	case "SHA-384":
		return crypto.SHA384, true
	case "SHA-512":
		return crypto.SHA512, true
	}
	return 0, false
}

func mSign(ctx context.Context, rc *reqCtx, params []byte) (any, error) {
	var p struct {
		Reader        *string `json:"reader"`
		Digest        string  `json:"digest"`
		HashAlgorithm string  `json:"hashAlgorithm"`
		DocumentName  string  `json:"documentName"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	h, ok := hashByName(p.HashAlgorithm)
	if !ok {
		return nil, newError(CodeBadRequest, "hashAlgorithm must be SHA-256, SHA-384 or SHA-512")
	}
	digest, err := base64.StdEncoding.DecodeString(p.Digest)
	if err != nil || len(digest) != h.Size() {
		return nil, newError(CodeBadRequest, fmt.Sprintf("digest must be the base64 of a %d-byte %s digest", h.Size(), p.HashAlgorithm))
	}
	if utf8.RuneCountInString(p.DocumentName) > maxDocNameLen || strings.ContainsFunc(p.DocumentName, unicode.IsControl) || !utf8.ValidString(p.DocumentName) {
		return nil, newError(CodeBadRequest, fmt.Sprintf("documentName must be at most %d characters without control characters", maxDocNameLen))
	}
	info, err := rc.resolve(ctx, p.Reader)
	if err != nil {
		return nil, err
	}
	s := rc.core()
	// A fresh confirmation for every signature, whatever was allowed
	// before: consent to read the card is not consent to sign.
	err = s.askUser(rc.conn, func(offer bool, ready func() error) (bool, error) {
		ok, err = s.prompts.confirmSignature(ctx, rc.conn.ctx, ready, SignatureRequest{
			Origin:        rc.conn.origin,
			DocumentName:  p.DocumentName,
			HashAlgorithm: p.HashAlgorithm,
			DigestHex:     hex.EncodeToString(digest),
			OfferBlock:    offer,
		})
		return ok, err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, newError(CodeConsentDenied, "the user refused to sign")
	}
	g, err := rc.preparePIN(ctx, info, PurposeSign, p.DocumentName)
	if err != nil {
		return nil, err
	}
	defer g.wipe()
	return withCard(ctx, rc, info, func(ctx context.Context, sess CardSession, card *cachedCard) (map[string]any, error) {
		cert, sig, err := g.sign(ctx, sess, card, beid.FileSignCert, beid.KeySignature, func(*x509.Certificate) (crypto.Hash, []byte, error) {
			return h, digest, nil
		})
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"signature":          base64.StdEncoding.EncodeToString(sig.Raw),
			"signatureAlgorithm": signatureAlgorithm(cert, p.HashAlgorithm),
			"certificate":        base64.StdEncoding.EncodeToString(cert.Raw),
		}, nil
	})
}

// signatureAlgorithm describes a signature the way Web eID's sign result
// does.
func signatureAlgorithm(cert *x509.Certificate, hashName string) map[string]string {
	if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
		return map[string]string{"cryptoAlgorithm": "RSA", "hashFunction": hashName, "paddingScheme": "PKCS1.5"}
	}
	return map[string]string{"cryptoAlgorithm": "ECC", "hashFunction": hashName, "paddingScheme": "NONE"}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E {
			return false
		}
	}
	return true
}
