package bridge_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

var profiles = []struct {
	name string
	p    sim.Profile
}{{"ecc", sim.ProfileECC}, {"rsa", sim.ProfileRSA}}

func TestVersion(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	var v struct {
		Protocol int    `json:"protocol"`
		Version  string `json:"version"`
		OS       string `json:"os"`
	}
	c.ok("version", nil, &v)
	if v.Protocol != 1 || v.Version != "0.1.0" || v.OS != runtime.GOOS {
		t.Errorf("version = %+v", v)
	}
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("version showed dialogs: %+v", calls)
	}
}

func TestReadMethods(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			e, card := newEnv(t, pr.p, preConsented)
			c := e.dial(testOrigin)
			person := card.Person()

			var rd struct {
				Readers []struct {
					Name        string `json:"name"`
					CardPresent bool   `json:"cardPresent"`
					Card        *struct {
						Type string `json:"type"`
						ATR  string `json:"atr"`
					} `json:"card"`
					Pinpad bool `json:"pinpad"`
				} `json:"readers"`
			}
			c.ok("readers", nil, &rd)
			if len(rd.Readers) != 2 || rd.Readers[0].Name != reader0 || !rd.Readers[0].CardPresent ||
				rd.Readers[0].Card == nil || rd.Readers[0].Card.Type != "beid" ||
				rd.Readers[0].Card.ATR != strings.ToUpper(hex.EncodeToString(card.ATR())) ||
				rd.Readers[1].CardPresent || rd.Readers[1].Card != nil {
				t.Errorf("readers = %+v", rd)
			}

			var cd map[string]string
			c.ok("card", nil, &cd)
			wantApplet := map[sim.Profile]string{sim.ProfileECC: "1.8", sim.ProfileRSA: "1.7"}[pr.p]
			if cd["reader"] != reader0 || cd["type"] != "beid" || cd["applet"] != wantApplet ||
				cd["cardNumber"] != person.Identity.CardNumber ||
				cd["serial"] != strings.ToUpper(hex.EncodeToString(card.Serial())) {
				t.Errorf("card = %v", cd)
			}

			var id struct {
				Identity  map[string]any `json:"identity"`
				Integrity struct {
					Valid   bool     `json:"valid"`
					Errors  []string `json:"errors"`
					Genuine string   `json:"genuine"`
				} `json:"integrity"`
			}
			c.ok("identity", map[string]string{"reader": reader0}, &id)
			if want := map[sim.Profile]string{sim.ProfileECC: "verified", sim.ProfileRSA: "unavailable"}[pr.p]; id.Integrity.Genuine != want {
				t.Errorf("identity integrity.genuine = %q, want %q", id.Integrity.Genuine, want)
			}
			want := map[string]any{
				"cardNumber":       person.Identity.CardNumber,
				"nationalNumber":   person.Identity.NationalNumber,
				"surname":          person.Identity.Surname,
				"givenNames":       person.Identity.GivenNames,
				"birthDate":        "1990-05-17",
				"validFrom":        "2021-03-15",
				"sex":              "F",
				"documentType":     person.Identity.DocumentType,
				"documentTypeName": "Belgian identity card",
				"chipNumber":       strings.ToUpper(hex.EncodeToString(card.Serial())),
			}
			for k, v := range want {
				if id.Identity[k] != v {
					t.Errorf("identity.%s = %v, want %v", k, id.Identity[k], v)
				}
			}
			// docs/protocol.md: these members are always present, as
			// strings; photoHash is there because the card carries it.
			for _, k := range strings.Fields(`cardNumber chipNumber validFrom validUntil issuingMunicipality
				nationalNumber surname givenNames thirdNameInitial nationality birthPlace birthDate sex
				nobleCondition documentType documentTypeName specialStatus photoHash`) {
				if _, ok := id.Identity[k].(string); !ok {
					t.Errorf("identity.%s = %#v, want a string", k, id.Identity[k])
				}
			}
			if ph, _ := id.Identity["photoHash"].(string); ph != strings.ToUpper(ph) || len(ph) < 40 {
				t.Errorf("identity.photoHash = %q, want upper-case hex", ph)
			}
			if !id.Integrity.Valid || len(id.Integrity.Errors) != 0 {
				t.Errorf("identity integrity = %+v", id.Integrity)
			}

			var ad struct {
				Address   map[string]string    `json:"address"`
				Integrity struct{ Valid bool } `json:"integrity"`
			}
			c.ok("address", nil, &ad)
			if ad.Address["street"] != person.Address.Street || ad.Address["zipCode"] != person.Address.ZipCode ||
				ad.Address["municipality"] != person.Address.Municipality || !ad.Integrity.Valid {
				t.Errorf("address = %+v", ad)
			}

			var ph struct {
				Photo     string               `json:"photo"`
				MimeType  string               `json:"mimeType"`
				Integrity struct{ Valid bool } `json:"integrity"`
			}
			c.ok("photo", nil, &ph)
			jpeg, err := base64.StdEncoding.DecodeString(ph.Photo)
			if err != nil || !bytes.HasPrefix(jpeg, []byte{0xFF, 0xD8}) || ph.MimeType != "image/jpeg" || !ph.Integrity.Valid {
				t.Errorf("photo: %d bytes, %v, %+v", len(jpeg), err, ph.Integrity)
			}

			var certs map[string]string
			c.ok("certificates", nil, &certs)
			auth := parseCert(t, certs["authentication"])
			if !bytes.Equal(auth.Raw, card.AuthCert().Raw) {
				t.Error("authentication certificate differs from the card's")
			}
			if !bytes.Equal(parseCert(t, certs["signing"]).Raw, card.SignCert().Raw) {
				t.Error("signing certificate differs from the card's")
			}
			for _, k := range []string{"ca", "root", "rrn"} {
				parseCert(t, certs[k])
			}
			if _, err := auth.Verify(x509.VerifyOptions{Roots: card.PKI().Roots(), Intermediates: card.PKI().Intermediates(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("authentication certificate does not chain to the sim PKI: %v", err)
			}
		})
	}
}

func parseCert(t *testing.T, b64 string) *x509.Certificate {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("certificate base64: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	return c
}

// TestAuthenticateToken checks the Web eID token: the signature verifies
// with the certificate over hash(origin) || hash(nonce), with the origin of
// the handshake, not one the page could name.
func TestAuthenticateToken(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			e, card := newEnv(t, pr.p, preConsented)
			c := e.dial(testOrigin)
			e.prompter.EnterPIN(testPIN)
			n := nonce()
			var tok map[string]string
			c.ok("authenticate", map[string]string{"challengeNonce": n, "origin": "https://evil.example"}, &tok)
			if tok["format"] != "web-eid:1.0" || tok["appVersion"] != "https://cardbridge.invalid/releases/0.1.0" {
				t.Errorf("token = %v", tok)
			}
			cert := parseCert(t, tok["unverifiedCertificate"])
			if !bytes.Equal(cert.Raw, card.AuthCert().Raw) {
				t.Fatal("token certificate is not the card's authentication certificate")
			}
			sig, _ := base64.StdEncoding.DecodeString(tok["signature"])
			switch pub := cert.PublicKey.(type) {
			case *ecdsa.PublicKey:
				if tok["algorithm"] != "ES384" {
					t.Errorf("algorithm = %s", tok["algorithm"])
				}
				ho, hn := sha512.Sum384([]byte(testOrigin)), sha512.Sum384([]byte(n))
				d := sha512.Sum384(append(ho[:], hn[:]...))
				if len(sig) != 96 {
					t.Fatalf("ECDSA signature of %d bytes, want raw r||s of 96", len(sig))
				}
				r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
				if !ecdsa.Verify(pub, d[:], r, s) {
					t.Error("ES384 token signature does not verify")
				}
			case *rsa.PublicKey:
				if tok["algorithm"] != "RS256" {
					t.Errorf("algorithm = %s", tok["algorithm"])
				}
				ho, hn := sha256.Sum256([]byte(testOrigin)), sha256.Sum256([]byte(n))
				d := sha256.Sum256(append(ho[:], hn[:]...))
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
					t.Errorf("RS256 token signature does not verify: %v", err)
				}
			default:
				t.Fatalf("key type %T", pub)
			}
			if log := card.Log(); len(log) == 0 || log[len(log)-1].Command.INS != 0xE6 {
				t.Error("the card was not logged off after the signature")
			}
			calls := e.prompter.Calls()
			if len(calls) != 1 || calls[0].Kind != bridgetest.PIN || calls[0].Origin != testOrigin ||
				calls[0].Purpose != bridge.PurposeAuthenticate || calls[0].TriesLeft != 3 || calls[0].Reader != reader0 {
				t.Errorf("dialogs = %+v", calls)
			}
			// A PIN dialog every time, even right after a verification.
			c.fails("authenticate", map[string]string{"challengeNonce": n}, "USER_CANCELLED")
		})
	}
}

func TestWebEIDSignedValue(t *testing.T) {
	ho, hn := sha256.Sum256([]byte("https://a.example")), sha256.Sum256([]byte("n"))
	got := bridge.WebEIDSignedValue(crypto.SHA256, "https://a.example", "n")
	if !bytes.Equal(got, append(ho[:], hn[:]...)) {
		t.Errorf("signed value = %x", got)
	}
}

func TestSign(t *testing.T) {
	for _, pr := range profiles {
		for _, h := range []struct {
			name string
			hash crypto.Hash
		}{{"SHA-256", crypto.SHA256}, {"SHA-384", crypto.SHA384}, {"SHA-512", crypto.SHA512}} {
			t.Run(pr.name+"/"+h.name, func(t *testing.T) {
				e, card := newEnv(t, pr.p, preConsented)
				c := e.dial(testOrigin)
				hh := h.hash.New()
				hh.Write([]byte("contract"))
				digest := hh.Sum(nil)
				e.prompter.Confirm(bridgetest.ConfirmSignature, true)
				e.prompter.EnterPIN(testPIN)
				var res struct {
					Signature          string            `json:"signature"`
					SignatureAlgorithm map[string]string `json:"signatureAlgorithm"`
					Certificate        string            `json:"certificate"`
				}
				defer func() {
					if t.Failed() {
						t.Log(e.logs.String())
					}
				}()
				c.ok("sign", map[string]string{"digest": base64.StdEncoding.EncodeToString(digest),
					"hashAlgorithm": h.name, "documentName": "contract.pdf"}, &res)
				cert := parseCert(t, res.Certificate)
				if !bytes.Equal(cert.Raw, card.SignCert().Raw) {
					t.Fatal("certificate is not the card's signing certificate")
				}
				sig, _ := base64.StdEncoding.DecodeString(res.Signature)
				switch pub := cert.PublicKey.(type) {
				case *ecdsa.PublicKey:
					want := map[string]string{"cryptoAlgorithm": "ECC", "hashFunction": h.name, "paddingScheme": "NONE"}
					if !equalMaps(res.SignatureAlgorithm, want) {
						t.Errorf("signatureAlgorithm = %v", res.SignatureAlgorithm)
					}
					half := len(sig) / 2
					if len(sig) != 96 || !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])) {
						t.Errorf("ECDSA signature (%d bytes) does not verify", len(sig))
					}
				case *rsa.PublicKey:
					want := map[string]string{"cryptoAlgorithm": "RSA", "hashFunction": h.name, "paddingScheme": "PKCS1.5"}
					if !equalMaps(res.SignatureAlgorithm, want) {
						t.Errorf("signatureAlgorithm = %v", res.SignatureAlgorithm)
					}
					if err := rsa.VerifyPKCS1v15(pub, h.hash, digest, sig); err != nil {
						t.Errorf("RSA signature does not verify: %v", err)
					}
				}
				calls := e.prompter.Calls()
				if len(calls) != 2 || calls[0].Kind != bridgetest.ConfirmSignature || calls[0].Origin != testOrigin ||
					calls[0].DocumentName != "contract.pdf" || calls[0].DigestHex != hex.EncodeToString(digest) ||
					calls[0].HashAlgorithm != h.name || calls[1].Kind != bridgetest.PIN || calls[1].Purpose != bridge.PurposeSign {
					t.Errorf("dialogs = %+v", calls)
				}
			})
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSignBadParams(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	d32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, p := range []map[string]any{
		{"digest": d32, "hashAlgorithm": "SHA-1"},
		{"digest": d32, "hashAlgorithm": "SHA-384"},
		{"digest": "not base64!", "hashAlgorithm": "SHA-256"},
		{"digest": d32, "hashAlgorithm": "SHA-256", "documentName": strings.Repeat("x", 201)},
		{"digest": d32, "hashAlgorithm": "SHA-256", "documentName": "a\nb"},
		{"digest": 5, "hashAlgorithm": "SHA-256"},
	} {
		c.fails("sign", p, "BAD_REQUEST")
	}
	for _, n := range []any{"", strings.Repeat("a", 43), strings.Repeat("a", 129), 12, strings.Repeat("a", 43) + " "} {
		c.fails("authenticate", map[string]any{"challengeNonce": n}, "BAD_REQUEST")
	}
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("bad requests showed dialogs: %+v", calls)
	}
}

func TestPINVerify(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	e.prompter.EnterPIN(testPIN)
	var r map[string]bool
	c.ok("pin.verify", nil, &r)
	if !r["verified"] || card.TriesLeft() != 3 {
		t.Errorf("pin.verify = %v, tries %d", r, card.TriesLeft())
	}
}

func TestPinpad(t *testing.T) {
	e, card := newEnv(t, sim.ProfileRSA, preConsented)
	entered := 0
	e.readers.SetPinpad(reader0, func(ctx context.Context) ([]byte, error) {
		entered++
		return []byte(testPIN), nil
	})
	c := e.dial(testOrigin)
	c.ok("pin.verify", nil, nil)
	// No PIN dialog: the keypad takes the PIN, while a notice without
	// input names the site (TestAttackPinpadNamesNoSite).
	calls := e.prompter.Calls()
	if entered != 1 || len(calls) != 1 || calls[0].Kind != bridgetest.PinpadNotice {
		t.Errorf("pinpad used %d times, dialogs %+v", entered, calls)
	}
	e.readers.SetPinpad(reader0, func(ctx context.Context) ([]byte, error) { return nil, simreaders.ErrPinpadCancelled })
	c.fails("pin.verify", nil, "USER_CANCELLED")
	e.readers.SetPinpad(reader0, func(ctx context.Context) ([]byte, error) { return nil, simreaders.ErrPinpadTimeout })
	c.fails("pin.verify", nil, "PINPAD_TIMEOUT")
	if card.TriesLeft() != 3 {
		t.Errorf("tries left %d", card.TriesLeft())
	}
}

// TestPinpadLanguage is D7 through the bridge: the pinpad reader prompts
// in the user's language.
func TestPinpadLanguage(t *testing.T) {
	for lang, want := range map[string]uint16{"fr": 0x080C, "nl": 0x0813, "": 0x0409} {
		e, _ := newEnv(t, sim.ProfileECC, preConsented, func(c *bridge.Config) { c.Language = lang })
		e.readers.SetPinpad(reader0, func(ctx context.Context) ([]byte, error) { return []byte(testPIN), nil })
		e.dial(testOrigin).ok("pin.verify", nil, nil)
		if got := e.readers.PinpadLanguage(reader0); got != want {
			t.Errorf("language %q: the pinpad got wLangId %04X, want %04X", lang, got, want)
		}
	}
}

func TestReaderSelection(t *testing.T) {
	e, _ := newEnv(t, 0, preConsented)
	c := e.dial(testOrigin)
	c.fails("identity", nil, "NO_CARD")
	c.fails("identity", map[string]string{"reader": "nope"}, "NO_READER")
	c.fails("identity", map[string]string{"reader": reader1}, "NO_CARD")
	e.readers.Insert(reader0, newCard(t, sim.ProfileECC))
	e.readers.Insert(reader1, newCard(t, sim.ProfileECC))
	m := c.fails("identity", nil, "AMBIGUOUS_READER")
	rs, _ := m.Error.Data["readers"].([]any)
	if len(rs) != 2 || rs[0] != reader0 || rs[1] != reader1 {
		t.Errorf("data.readers = %v", m.Error.Data)
	}
	var id struct{ Identity map[string]any }
	c.ok("identity", map[string]string{"reader": reader1}, &id)
	e.readers.Remove(reader0)
	c.ok("identity", nil, &id)

	e.readers.SetServiceError(bridge.ErrNoService)
	c.fails("identity", nil, "NO_SERVICE")
	c.fails("readers", nil, "NO_SERVICE")
}

func TestOverlappingRequests(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	e.readers.Insert(reader1, newCard(t, sim.ProfileECC))
	e.readers.SetLatency(2 * time.Millisecond)
	c := e.dial(testOrigin)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, c.send("identity", map[string]string{"reader": reader0}))
		ids = append(ids, c.send("photo", map[string]string{"reader": reader1}))
	}
	v := c.send("version", nil)
	// version does not wait for the card work queued before it.
	first := c.wait("any response", func(m msg) bool { return m.Event == "" })
	if string(first.ID) != strconv.Quote(v) {
		t.Errorf("first response is %s, want the version call %s", first.ID, v)
	}
	for _, id := range ids {
		if m := c.response(id); m.Error != nil {
			t.Errorf("%s: %s", id, m.raw)
		}
	}
}

func TestIntegerIDs(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	c.sendRaw([]byte(`{"id": 42, "method": "version"}`))
	m := c.wait("id 42", func(m msg) bool { return string(m.ID) == "42" })
	if m.Error != nil {
		t.Errorf("integer id: %s", m.raw)
	}
	c.sendRaw([]byte(`{"id": "\u0061b", "method": "version"}`))
	m = c.wait("id ab", func(m msg) bool { return string(m.ID) == `"ab"` })
	if m.Error != nil {
		t.Errorf("escaped id: %s", m.raw)
	}
}

func TestCancel(t *testing.T) {
	e, card := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	opened := e.prompter.Opened()
	e.prompter.Push(bridgetest.PIN, bridgetest.Answer{Block: true})
	id := c.send("pin.verify", nil)
	<-opened
	var cr map[string]bool
	c.ok("cancel", map[string]string{"id": id}, &cr)
	if !cr["cancelled"] {
		t.Errorf("cancel = %v", cr)
	}
	if m := c.response(id); m.code() != "CANCELLED" {
		t.Errorf("cancelled request answered %s", m.raw)
	}
	eventually(t, "the PIN dialog closes", func() bool { return e.prompter.Calls()[0].Closed })
	c.ok("cancel", map[string]string{"id": id}, &cr)
	if cr["cancelled"] {
		t.Error("cancelling a finished request reported true")
	}
	if card.TriesLeft() != 3 || e.readers.PINVerifies() != 0 {
		t.Error("a cancelled PIN dialog cost a try")
	}
}

func TestTimeouts(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented, withLimits(bridge.Limits{
		RequestTimeout: 100 * time.Millisecond, PromptTimeout: 200 * time.Millisecond}))
	c := e.dial(testOrigin)
	e.prompter.Push(bridgetest.PIN, bridgetest.Answer{Block: true})
	start := time.Now()
	c.fails("pin.verify", nil, "TIMEOUT")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("prompt timed out after %v, before PromptTimeout", d)
	}
	e.readers.SetLatency(20 * time.Millisecond)
	c.fails("photo", nil, "TIMEOUT")
	e.readers.SetLatency(0)
	c.ok("card", nil, nil) // the reader lock was released
}

func TestReaderEvents(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	other := e.dial(testOrigin) // never calls readers: gets no events
	c.ok("readers", nil, nil)

	type evData struct {
		Readers []struct {
			Name        string `json:"name"`
			CardPresent bool   `json:"cardPresent"`
		} `json:"readers"`
		Error *struct{ Code string } `json:"error"`
	}
	next := func() evData {
		t.Helper()
		var d evData
		if err := json.Unmarshal(c.event("readers").Data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	e.readers.Insert(reader1, newCard(t, sim.ProfileECC))
	if d := next(); len(d.Readers) != 2 || !d.Readers[1].CardPresent {
		t.Errorf("after insert: %+v", d)
	}
	e.readers.Remove(reader0)
	if d := next(); d.Readers[0].CardPresent || !d.Readers[1].CardPresent {
		t.Errorf("after remove: %+v", d)
	}
	e.readers.AddReader("Pinpad 00")
	if d := next(); len(d.Readers) != 3 {
		t.Errorf("after reader added: %+v", d)
	}
	e.readers.SetServiceError(bridge.ErrNoService)
	if d := next(); len(d.Readers) != 0 || d.Error == nil || d.Error.Code != "NO_SERVICE" {
		t.Errorf("service lost: %+v", d)
	}
	e.readers.SetServiceError(nil)
	if d := next(); len(d.Readers) != 3 || d.Error != nil {
		t.Errorf("service back: %+v", d)
	}
	// One watcher for the whole server, however many pages listen, and
	// none once the last one leaves.
	// The watcher is between two Watch calls for a moment after the
	// service comes back (it lists the readers, then watches again), so
	// wait for it, then check that no second one ever ran.
	third := e.dial(testOrigin)
	third.ok("readers", nil, nil)
	eventually(t, "the watcher watches", func() bool { return e.readers.Watchers() == 1 })
	if n := e.readers.MaxWatchers(); n != 1 {
		t.Errorf("%d watchers at once for two subscribed pages", n)
	}
	third.close()
	c.close()
	eventually(t, "the watcher stops", func() bool { return e.readers.Watchers() == 0 })
	other.ok("version", nil, nil)
	other.mu.Lock()
	for _, m := range other.backlog {
		if m.Event == "readers" {
			t.Errorf("unsubscribed connection got %s", m.raw)
		}
	}
	other.mu.Unlock()
}

func TestHealthAndPaths(t *testing.T) {
	e, _ := newEnv(t, 0)
	base := "http://127.0.0.1:" + strconv.Itoa(e.port)
	// get fetches path as a page on origin would ("" for no Origin).
	get := func(path, origin string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/v1/health", "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"ok":true,"protocol":1}` ||
		resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("health: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := get("/", ""); resp.StatusCode != 404 {
		t.Errorf("GET / = %d", resp.StatusCode)
	}
	// Neither a plain GET of the WebSocket path nor the health probe (which
	// pages use to tell a refused handshake from a daemon that is not
	// running) asks anybody anything, whatever the origin.
	if resp, _ := get("/v1", "https://unknown.example"); resp.StatusCode != 400 {
		t.Errorf("GET /v1 without upgrade = %d", resp.StatusCode)
	}
	if resp, _ := get("/v1/health", "https://unknown.example"); resp.StatusCode != 200 {
		t.Errorf("health from an unknown origin = %d", resp.StatusCode)
	}
	if calls := e.prompter.Calls(); len(calls) != 0 {
		t.Errorf("dialogs = %+v", calls)
	}
}

// TestConsentAllowAlwaysIsStored: "always" is stored, and later
// connections from the origin open without a dialog. Revoking it ends the
// open connections' access at their next request, without a dialog; the
// next handshake asks again.
func TestConsentAllowAlwaysIsStored(t *testing.T) {
	store := &bridge.MemoryConsentStore{}
	e, _ := newEnv(t, sim.ProfileECC, func(c *bridge.Config) { c.Consents = store })
	e.prompter.AllowConsent(bridge.AllowAlways)
	c := e.dial(testOrigin)
	if got := store.List(); len(got) != 1 || got[0] != testOrigin {
		t.Errorf("store = %v", got)
	}
	c.ok("card", nil, nil)
	c.ok("identity", nil, nil)
	c2 := e.dial(testOrigin)
	c2.ok("card", nil, nil)
	if calls := e.prompter.Calls(); len(calls) != 1 || calls[0].Kind != bridgetest.Consent || calls[0].Origin != testOrigin {
		t.Errorf("dialogs = %+v", calls)
	}

	if err := store.Revoke(testOrigin); err != nil {
		t.Fatal(err)
	}
	c.fails("card", nil, "CONSENT_DENIED")
	c2.fails("identity", nil, "CONSENT_DENIED")
	c.ok("version", nil, nil)
	if n := len(e.prompter.Calls()); n != 1 {
		t.Errorf("%d dialogs after the revocation, want none more", n-1)
	}
	refused(t, e, http.Header{"Origin": {testOrigin}}, http.StatusForbidden) // empty script: the dialog denies
	if n := len(e.prompter.Calls()); n != 2 {
		t.Errorf("%d dialogs, want the reconnection asked", n)
	}
}

// TestConsentAllowOnceIsPerConnection: "once" opens this connection only;
// the next one is asked again. On the allowed connection the per-request
// check asks nothing more, but every signature is still confirmed.
func TestConsentAllowOnceIsPerConnection(t *testing.T) {
	store := &bridge.MemoryConsentStore{}
	e, _ := newEnv(t, sim.ProfileECC, func(c *bridge.Config) { c.Consents = store })
	e.prompter.AllowConsent(bridge.AllowOnce)
	c := e.dial(testOrigin)
	c.ok("card", nil, nil)
	c.ok("readers", nil, nil)
	e.prompter.Confirm(bridgetest.ConfirmSignature, true)
	e.prompter.EnterPIN(testPIN)
	params := map[string]string{"digest": base64.StdEncoding.EncodeToString(make([]byte, 32)), "hashAlgorithm": "SHA-256"}
	c.ok("sign", params, nil)
	c.fails("sign", params, "CONSENT_DENIED") // no confirmation queued: refused
	if got := store.List(); len(got) != 0 {
		t.Errorf("store = %v", got)
	}
	refused(t, e, http.Header{"Origin": {testOrigin}}, http.StatusForbidden) // empty script: the dialog denies
	var kinds []string
	for _, call := range e.prompter.Calls() {
		kinds = append(kinds, call.Kind.String())
	}
	if want := "consent confirm-signature pin confirm-signature consent"; strings.Join(kinds, " ") != want {
		t.Errorf("dialogs %v, want %s", kinds, want)
	}
}

func TestCanonicalOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://Portal.Example", "https://portal.example"},
		{"https://portal.example:443", "https://portal.example"},
		{"https://portal.example:8443", "https://portal.example:8443"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"https://portal.example/", ""},
		{"https://portal.example/path", ""},
		{"https://user@portal.example", ""},
		{"https://portal.example?x", ""},
		{"null", ""},
		{"file://", ""},
		{"chrome-extension://abcdef", ""},
		{"https://", ""},
		{"https://portal.example:0", ""},
		{"https://portal.example:99999", ""},
		{" https://portal.example", ""},
		{"https://portal.example.", ""},
	} {
		got, err := bridge.CanonicalOrigin(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	r := simreaders.New()
	for _, cfg := range []bridge.Config{
		{},
		{Readers: r, AllowedOrigins: []string{"https://a.example/x"}},
		{Readers: r, AllowedOrigins: []string{"http://a.example"}},
		{Readers: r, DevHTTPOrigins: []string{"https://a.example"}},
		{Readers: r, Port: 70000},
	} {
		if _, err := bridge.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC, preConsented)
	c := e.dial(testOrigin)
	opened := e.prompter.Opened()
	e.prompter.Push(bridgetest.PIN, bridgetest.Answer{Block: true})
	c.send("pin.verify", nil)
	waitDialog(t, opened, bridgetest.PIN)
	shutdownWithDialog(t, e)
	<-c.done
	if !websocket.IsCloseError(c.err, websocket.CloseGoingAway) {
		t.Errorf("connection ended with %v, want close 1001", c.err)
	}
	if _, _, err := e.dialRaw(http.Header{"Origin": {testOrigin}}); err == nil {
		t.Error("a connection was accepted after Shutdown")
	}
}

// TestShutdownClosesConsentDialog: a handshake waiting for consent does
// not hold up Shutdown; its dialog closes and it gets no session.
func TestShutdownClosesConsentDialog(t *testing.T) {
	e, _ := newEnv(t, sim.ProfileECC)
	opened := e.prompter.Opened()
	e.prompter.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.AllowAlways, Block: true})
	h := e.startHandshake(testOrigin)
	waitDialog(t, opened, bridgetest.Consent)
	shutdownWithDialog(t, e)
	if st := h.status(); st != http.StatusServiceUnavailable {
		t.Errorf("handshake during shutdown: HTTP %d, want 503", st)
	}
}

// shutdownWithDialog shuts e's server down while the one dialog shown so
// far is open: the dialog must not hold Shutdown up, and must close.
func shutdownWithDialog(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Shutdown took %v", d)
	}
	if calls := e.prompter.Calls(); len(calls) != 1 || !calls[0].Closed {
		t.Errorf("dialogs after Shutdown: %+v, want one, closed", calls)
	}
}

// TestResendPacing is D1 through the bridge: the driver pauses after a
// 6Cxx as long as the reader layer says (beid.ResendPacer), so a card that
// needs the pause reads, and goes mute when the readers say none.
func TestResendPacing(t *testing.T) {
	const gap = 20 * time.Millisecond
	for _, tc := range []struct {
		pause time.Duration
		reads bool
	}{{gap + 15*time.Millisecond, true}, {0, false}} {
		e, _ := newEnv(t, 0, preConsented)
		card, err := sim.New(sim.Options{Profile: sim.ProfileECC, PKI: newCard(t, sim.ProfileECC).PKI(), MuteOnEarlyResend: gap})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.readers.Insert(reader0, card); err != nil {
			t.Fatal(err)
		}
		e.readers.SetResendDelay(tc.pause)
		m := e.dial(testOrigin).call("identity", nil)
		if got := m.Error == nil; got != tc.reads || card.Mute() == tc.reads {
			t.Errorf("pause %v: identity read %v (%s), card mute %v; want read %v", tc.pause, got, m.raw, card.Mute(), tc.reads)
		}
	}
}
