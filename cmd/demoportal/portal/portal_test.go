package portal

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/webeid"
)

const testOrigin = "https://portal.example"

// PKIs are made once per profile: RSA key generation is slow.
var (
	pkiOnce sync.Once
	pkis    map[sim.Profile]*sim.PKI
	cards   map[sim.Profile]*sim.Card
	other   *sim.Card // another person, same ECC PKI
	foreign *sim.Card // same person, untrusted PKI
)

func testPKIs(t *testing.T) {
	t.Helper()
	pkiOnce.Do(func() {
		pkis = map[sim.Profile]*sim.PKI{}
		cards = map[sim.Profile]*sim.Card{}
		for _, p := range []sim.Profile{sim.ProfileECC, sim.ProfileRSA} {
			pki, err := sim.NewPKI(p)
			if err != nil {
				panic(err)
			}
			c, err := sim.New(sim.Options{PKI: pki})
			if err != nil {
				panic(err)
			}
			pkis[p], cards[p] = pki, c
		}
		person := sim.DefaultPerson()
		person.Identity.NationalNumber = "85073100130" // valid check digits, another person
		person.Identity.GivenNames = "Pieter"
		person.Identity.Surname = "Peeters"
		var err error
		if other, err = sim.New(sim.Options{PKI: pkis[sim.ProfileECC], Person: person}); err != nil {
			panic(err)
		}
		if foreign, err = sim.New(sim.Options{Profile: sim.ProfileECC}); err != nil {
			panic(err)
		}
	})
}

// testClock is a settable clock shared by the validator and the portal.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a portal behind an httptest TLS server and a browser-like
// client (cookie jar, Origin header).
type harness struct {
	t      *testing.T
	portal *Portal
	srv    *httptest.Server
	client *http.Client
	clock  *testClock
	ocsp   *sim.OCSPResponder // answers for the profile's PKI
}

// simValidatorConfig is what a portal that accepts the simulator's cards
// configures: its root and CA, its test certificate policies, and its
// OCSP responder (served on loopback) as the designated responder, since
// the cards here were made before any responder URL existed.
func simValidatorConfig(t *testing.T, pki *sim.PKI, now func() time.Time) (webeid.Config, *sim.OCSPResponder) {
	t.Helper()
	resp := pki.OCSPResponder()
	resp.SetClock(now)
	srv := httptest.NewServer(resp)
	t.Cleanup(srv.Close)
	return webeid.Config{
		Origin: testOrigin, Roots: pki.Roots(), Intermediates: pki.Intermediates(), Now: now,
		Policies:   webeid.Policies{Authentication: []x509.OID{sim.AuthenticationPolicy()}, Signing: []x509.OID{sim.SignaturePolicy()}},
		Revocation: webeid.RevocationConfig{Responders: []webeid.OCSPResponder{{URL: srv.URL, Certificate: resp.Certificate(), RequireNonce: true}}},
	}, resp
}

func newHarness(t *testing.T, profile sim.Profile) *harness {
	t.Helper()
	return newHarnessWith(t, profile, nil)
}

// newHarnessWith is newHarness with a chance to adjust the validator's
// configuration.
func newHarnessWith(t *testing.T, profile sim.Profile, tweak func(*webeid.Config)) *harness {
	t.Helper()
	testPKIs(t)
	clock := &testClock{t: time.Now()}
	cfg, ocsp := simValidatorConfig(t, pkis[profile], clock.Now)
	if tweak != nil {
		tweak(&cfg)
	}
	v, err := webeid.NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Validator: v, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(p.Handler())
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return &harness{t: t, portal: p, srv: srv, client: c, clock: clock, ocsp: ocsp}
}

// post sends JSON like the page does and decodes the JSON answer.
func (h *harness) post(path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest("POST", h.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", testOrigin)
	return h.do(req)
}

func (h *harness) get(path string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	return h.do(req)
}

func (h *harness) do(req *http.Request) (int, map[string]any) {
	h.t.Helper()
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// token makes what the daemon's authenticate returns, signing with the
// card's authentication key directly.
func token(t *testing.T, c *sim.Card, origin, nonce string) map[string]string {
	t.Helper()
	alg, h := "ES384", crypto.SHA384
	if c.Profile() == sim.ProfileRSA {
		alg, h = "RS256", crypto.SHA256
	}
	return map[string]string{
		"unverifiedCertificate": base64.StdEncoding.EncodeToString(c.AuthCert().Raw),
		"algorithm":             alg,
		"signature":             base64.StdEncoding.EncodeToString(signDigest(t, c.PKI().AuthKey, h, digestOf(h, webeid.SignedValue(h, origin, nonce)))),
		"format":                "web-eid:1",
		"appVersion":            "https://cardbridge.invalid/releases/0.1.0",
	}
}

func digestOf(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

// signDigest signs like the card: ECDSA as r||s, RSA PKCS #1 v1.5.
func signDigest(t *testing.T, key crypto.Signer, h crypto.Hash, digest []byte) []byte {
	t.Helper()
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*n)
		r.FillBytes(out[:n])
		s.FillBytes(out[n:])
		return out
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("key %T", key)
	return nil
}

func (h *harness) login(c *sim.Card) map[string]any {
	h.t.Helper()
	st, m := h.post("/api/nonce", "{}")
	if st != 200 {
		h.t.Fatalf("nonce: %d %v", st, m)
	}
	st, m = h.post("/api/login", token(h.t, c, testOrigin, m["nonce"].(string)))
	if st != 200 {
		h.t.Fatalf("login: %d %v", st, m)
	}
	return m
}

// register does steps 3 and 4: the phone app shows a code, the portal's
// form takes it with the contact details.
func (h *harness) register() {
	h.t.Helper()
	st, m := h.post("/api/phone", "{}")
	if st != 200 || m["status"] != "code" {
		h.t.Fatalf("phone: %d %v", st, m)
	}
	st, m = h.post("/api/registration", map[string]string{"code": m["code"].(string), "email": "lotte@example.org", "phone": "0470 12 34 56"})
	if st != 200 {
		h.t.Fatalf("registration: %d %v", st, m)
	}
}

func validApplication(c *sim.Card) map[string]string {
	id := c.Person().Identity
	return map[string]string{
		"givenName": id.GivenNames, "surname": id.Surname, "nationalNumber": id.NationalNumber,
		"documentNumber": id.CardNumber, "country": "BE",
	}
}

// sign makes what the daemon's sign returns for the application answer.
func sign(t *testing.T, c *sim.Card, app map[string]any) map[string]any {
	t.Helper()
	h := map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384}[app["hashAlgorithm"].(string)]
	digest, _ := base64.StdEncoding.DecodeString(app["digest"].(string))
	alg := map[sim.Profile][2]string{sim.ProfileECC: {"ECC", "NONE"}, sim.ProfileRSA: {"RSA", "PKCS1.5"}}[c.Profile()]
	return map[string]any{
		"signature":          base64.StdEncoding.EncodeToString(signDigest(t, c.PKI().SignKey, h, digest)),
		"signatureAlgorithm": map[string]string{"cryptoAlgorithm": alg[0], "hashFunction": app["hashAlgorithm"].(string), "paddingScheme": alg[1]},
		"certificate":        base64.StdEncoding.EncodeToString(c.SignCert().Raw),
	}
}

func TestFullFlow(t *testing.T) {
	for _, profile := range []sim.Profile{sim.ProfileECC, sim.ProfileRSA} {
		t.Run(profile.String(), func(t *testing.T) {
			h := newHarness(t, profile)
			card := cards[profile]
			want := card.Person().Identity

			if st, m := h.get("/api/session"); st != 200 || m["person"] != nil {
				t.Fatalf("session before login: %d %v", st, m)
			}
			m := h.login(card)
			person := m["person"].(map[string]any)
			if person["nationalNumber"] != want.NationalNumber || person["surname"] != want.Surname || person["givenName"] != want.GivenNames {
				t.Fatalf("person = %v", person)
			}
			if st, m := h.get("/api/session"); st != 200 || m["person"].(map[string]any)["surname"] != want.Surname {
				t.Fatalf("session after login: %d %v", st, m)
			}
			h.register()

			st, app := h.post("/api/application", validApplication(card))
			if st != 200 {
				t.Fatalf("application: %d %v", st, app)
			}
			wantHash := map[sim.Profile]string{sim.ProfileECC: "SHA-384", sim.ProfileRSA: "SHA-256"}[profile]
			if app["hashAlgorithm"] != wantHash || app["documentName"] != DocumentName {
				t.Errorf("application answer %v", app)
			}
			// The digest is the hash of exactly the document shown to the user.
			doc := app["document"].(string)
			hh := map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384}[wantHash]
			if got := base64.StdEncoding.EncodeToString(digestOf(hh, []byte(doc))); got != app["digest"] {
				t.Errorf("digest does not match document")
			}
			if !strings.Contains(doc, `"phone":"+32470123456"`) || !strings.Contains(doc, `"applicationId":"`+app["id"].(string)+`"`) {
				t.Errorf("document %s", doc)
			}

			st, done := h.post("/api/application/"+app["id"].(string)+"/signature", sign(t, card, app))
			if st != 200 || done["status"] != "submitted" {
				t.Fatalf("signature: %d %v", st, done)
			}
			if !regexp.MustCompile(`^SID-[A-Z2-7]{4}-[A-Z2-7]{4}$`).MatchString(done["reference"].(string)) {
				t.Errorf("reference %v", done["reference"])
			}
			// The phone app now shows the account as active, for three years.
			wantUntil := h.clock.Now().AddDate(3, 0, 0).UTC().Format(time.RFC3339)
			if st, m := h.post("/api/phone", "{}"); st != 200 || m["status"] != "complete" || m["activeUntil"] != wantUntil || m["code"] != nil {
				t.Errorf("phone after submission: %d %v, want complete until %s", st, m, wantUntil)
			}
			if done["activeUntil"] != wantUntil {
				t.Errorf("activeUntil %v, want %s", done["activeUntil"], wantUntil)
			}

			// Server-side records.
			logins := h.portal.Logins()
			if len(logins) != 1 || logins[0].Person.NationalNumber != want.NationalNumber || !logins[0].Certificate.Equal(card.AuthCert()) {
				t.Errorf("logins = %+v", logins)
			}
			subs := h.portal.Submissions()
			if len(subs) != 1 || subs[0].Reference != done["reference"] || string(subs[0].Document) != doc {
				t.Fatalf("submissions = %+v", subs)
			}
			if err := webeid.VerifySignature(subs[0].Certificate, subs[0].Hash, subs[0].Digest, subs[0].Signature); err != nil {
				t.Errorf("recorded signature does not verify: %v", err)
			}

			// Submitting twice is refused.
			if st, m := h.post("/api/application/"+app["id"].(string)+"/signature", sign(t, card, app)); st != 409 || errCode(m) != "ALREADY_SUBMITTED" {
				t.Errorf("second submission: %d %v", st, m)
			}
			// Logout ends the session.
			h.post("/api/logout", "{}")
			if st, m := h.get("/api/session"); st != 200 || m["person"] != nil {
				t.Errorf("session after logout: %d %v", st, m)
			}
		})
	}
}

func TestLoginRefused(t *testing.T) {
	type step func(h *harness) (int, map[string]any)
	nonce := func(h *harness) string {
		_, m := h.post("/api/nonce", "{}")
		return m["nonce"].(string)
	}
	ecc := func() *sim.Card { return cards[sim.ProfileECC] }
	cases := []struct {
		name   string
		run    step
		status int
		code   string
	}{
		{"token for another origin", func(h *harness) (int, map[string]any) {
			return h.post("/api/login", token(h.t, ecc(), "https://portal.example.evil.test", nonce(h)))
		}, 401, "SIGNATURE_INVALID"},
		{"token for another nonce", func(h *harness) (int, map[string]any) {
			n := nonce(h)
			nonce(h) // the session now expects the newer nonce
			return h.post("/api/login", token(h.t, ecc(), testOrigin, n))
		}, 401, "SIGNATURE_INVALID"},
		{"no nonce requested", func(h *harness) (int, map[string]any) {
			return h.post("/api/login", token(h.t, ecc(), testOrigin, strings.Repeat("A", 44)))
		}, 401, "NO_SESSION"},
		{"replayed token", func(h *harness) (int, map[string]any) {
			tok := token(h.t, ecc(), testOrigin, nonce(h))
			if st, m := h.post("/api/login", tok); st != 200 {
				h.t.Fatalf("first login %d %v", st, m)
			}
			return h.post("/api/login", tok)
		}, 401, "NONCE_UNKNOWN"},
		{"failed attempt burns the nonce", func(h *harness) (int, map[string]any) {
			n := nonce(h)
			bad := token(h.t, ecc(), testOrigin, n)
			bad["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 96))
			h.post("/api/login", bad)
			return h.post("/api/login", token(h.t, ecc(), testOrigin, n))
		}, 401, "NONCE_UNKNOWN"},
		{"expired nonce", func(h *harness) (int, map[string]any) {
			n := nonce(h)
			h.clock.Advance(webeid.DefaultNonceTTL + time.Second)
			return h.post("/api/login", token(h.t, ecc(), testOrigin, n))
		}, 401, "NONCE_EXPIRED"},
		{"untrusted card", func(h *harness) (int, map[string]any) {
			return h.post("/api/login", token(h.t, foreign, testOrigin, nonce(h)))
		}, 401, "CERTIFICATE_REJECTED"},
		{"signing certificate in the token", func(h *harness) (int, map[string]any) {
			tok := token(h.t, ecc(), testOrigin, nonce(h))
			tok["unverifiedCertificate"] = base64.StdEncoding.EncodeToString(ecc().SignCert().Raw)
			return h.post("/api/login", tok)
		}, 401, "CERTIFICATE_REJECTED"},
		{"wrong format", func(h *harness) (int, map[string]any) {
			tok := token(h.t, ecc(), testOrigin, nonce(h))
			tok["format"] = "web-eid:2"
			return h.post("/api/login", tok)
		}, 400, "TOKEN_MALFORMED"},
		{"not JSON", func(h *harness) (int, map[string]any) {
			nonce(h)
			return h.post("/api/login", "{not json")
		}, 400, "BAD_JSON"},
		{"cross-origin post", func(h *harness) (int, map[string]any) {
			req, _ := http.NewRequest("POST", h.srv.URL+"/api/nonce", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "https://evil.example")
			return h.do(req)
		}, 403, "FORBIDDEN_ORIGIN"},
		{"form post", func(h *harness) (int, map[string]any) {
			req, _ := http.NewRequest("POST", h.srv.URL+"/api/nonce", strings.NewReader("a=b"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return h.do(req)
		}, 415, "BAD_CONTENT_TYPE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.ProfileECC)
			st, m := tc.run(h)
			if st != tc.status || errCode(m) != tc.code {
				t.Fatalf("got %d %v, want %d %s", st, m, tc.status, tc.code)
			}
		})
	}
}

func TestApplicationRefused(t *testing.T) {
	testPKIs(t)
	card := cards[sim.ProfileECC]
	mod := func(f func(a map[string]string)) map[string]string {
		a := validApplication(card)
		f(a)
		return a
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"contact details in the application", mod(func(a map[string]string) { a["email"] = "other@example.org" }), 400, "BAD_JSON"},
		{"bad national number", mod(func(a map[string]string) { a["nationalNumber"] = "90051724606" }), 422, "INVALID_FIELDS"},
		{"bad country", mod(func(a map[string]string) { a["country"] = "Belgium" }), 422, "INVALID_FIELDS"},
		{"empty surname", mod(func(a map[string]string) { a["surname"] = "  " }), 422, "INVALID_FIELDS"},
		{"someone else", mod(func(a map[string]string) { a["nationalNumber"] = "85073100130" }), 403, "WRONG_PERSON"},
		{"unknown field", `{"givenName":"x","admin":true}`, 400, "BAD_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.ProfileECC)
			h.login(card)
			h.register()
			st, m := h.post("/api/application", tc.body)
			if st != tc.status || errCode(m) != tc.code {
				t.Fatalf("got %d %v, want %d %s", st, m, tc.status, tc.code)
			}
		})
	}
	t.Run("not logged in", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		if st, m := h.post("/api/application", validApplication(card)); st != 401 || errCode(m) != "NOT_LOGGED_IN" {
			t.Fatalf("got %d %v", st, m)
		}
	})
	t.Run("no registration code", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		h.login(card)
		if st, m := h.post("/api/application", validApplication(card)); st != 409 || errCode(m) != "REGISTRATION_INCOMPLETE" {
			t.Fatalf("got %d %v", st, m)
		}
	})
}

func TestSignatureRefused(t *testing.T) {
	testPKIs(t)
	card := cards[sim.ProfileECC]
	cases := []struct {
		name   string
		tamper func(t *testing.T, app, sig map[string]any) string // returns the path id
		status int
		code   string
	}{
		{"tampered signature", func(t *testing.T, app, sig map[string]any) string {
			b, _ := base64.StdEncoding.DecodeString(sig["signature"].(string))
			b[5] ^= 1
			sig["signature"] = base64.StdEncoding.EncodeToString(b)
			return app["id"].(string)
		}, 401, "SIGNATURE_INVALID"},
		{"signature over another digest", func(t *testing.T, app, sig map[string]any) string {
			sig["signature"] = base64.StdEncoding.EncodeToString(signDigest(t, card.PKI().SignKey, crypto.SHA384, make([]byte, 48)))
			return app["id"].(string)
		}, 401, "SIGNATURE_INVALID"},
		{"signed by another person", func(t *testing.T, app, sig map[string]any) string {
			for k, v := range sign(t, other, app) {
				sig[k] = v
			}
			return app["id"].(string)
		}, 403, "WRONG_PERSON"},
		{"authentication certificate as signing certificate", func(t *testing.T, app, sig map[string]any) string {
			sig["certificate"] = base64.StdEncoding.EncodeToString(card.AuthCert().Raw)
			return app["id"].(string)
		}, 401, "CERTIFICATE_REJECTED"},
		{"untrusted signing certificate", func(t *testing.T, app, sig map[string]any) string {
			sig["certificate"] = base64.StdEncoding.EncodeToString(foreign.SignCert().Raw)
			return app["id"].(string)
		}, 401, "CERTIFICATE_REJECTED"},
		{"wrong hash claimed", func(t *testing.T, app, sig map[string]any) string {
			sig["signatureAlgorithm"].(map[string]string)["hashFunction"] = "SHA-256"
			return app["id"].(string)
		}, 400, "WRONG_HASH"},
		{"DER-encoded ECDSA", func(t *testing.T, app, sig map[string]any) string {
			raw, _ := base64.StdEncoding.DecodeString(sig["signature"].(string))
			sig["signature"] = base64.StdEncoding.EncodeToString(append([]byte{0x30, byte(len(raw))}, raw...))
			return app["id"].(string)
		}, 401, "SIGNATURE_INVALID"},
		{"unknown application", func(t *testing.T, app, sig map[string]any) string {
			return "0123456789abcdef"
		}, 404, "NOT_FOUND"},
		{"bad base64", func(t *testing.T, app, sig map[string]any) string {
			sig["certificate"] = "***"
			return app["id"].(string)
		}, 400, "BAD_BASE64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.ProfileECC)
			h.login(card)
			h.register()
			st, app := h.post("/api/application", validApplication(card))
			if st != 200 {
				t.Fatalf("application %d %v", st, app)
			}
			sig := sign(t, card, app)
			id := tc.tamper(t, app, sig)
			st, m := h.post("/api/application/"+id+"/signature", sig)
			if st != tc.status || errCode(m) != tc.code {
				t.Fatalf("got %d %v, want %d %s", st, m, tc.status, tc.code)
			}
			if n := len(h.portal.Submissions()); n != 0 {
				t.Errorf("%d submissions recorded", n)
			}
		})
	}
}

func TestStaticAndHeaders(t *testing.T) {
	h := newHarness(t, sim.ProfileECC)
	cases := []struct {
		path   string
		status int
		ctype  string
		body   string
	}{
		{"/", 200, "text/html", "Smart-ID registration"},
		{"/static/cardbridge.js", 200, "javascript", "export class CardBridge"},
		{"/static/demo/app.js", 200, "javascript", "authenticate"},
		{"/static/demo/style.css", 200, "text/css", ":root"},
		{"/phone", 200, "text/html", "phone.js"},
		{"/static/demo/phone.js", 200, "javascript", "/api/phone"},
		{"/static/package.json", 404, "", ""},
		{"/static/embed.go", 404, "", ""},
		{"/api/config", 200, "application/json", `"bridgeUrl":"ws://127.0.0.1:27183/v1"`},
		{"/nope", 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			res, err := h.client.Get(h.srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !strings.Contains(res.Header.Get("Content-Type"), tc.ctype) {
				t.Errorf("content type %q", res.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "connect-src 'self' ws://127.0.0.1:27183 http://127.0.0.1:27183 ws://localhost:27183 http://localhost:27183;") || !strings.Contains(csp, "script-src 'self';") {
				t.Errorf("CSP %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
}

func TestCookieFlags(t *testing.T) {
	h := newHarness(t, sim.ProfileECC)
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/nonce", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := res.Cookies()
	if len(c) != 1 || c[0].Name != "__Host-dp_session" || !c[0].Secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/" {
		t.Fatalf("cookie %+v", c)
	}
}

func TestCanonicalDocument(t *testing.T) {
	doc, err := canonicalDocument("id1", Application{GivenName: "Zoë <b>", Surname: "A&B", NationalNumber: "1", DocumentNumber: "2", Country: "BE", Email: "e", Phone: "p"}, "2026-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"applicationId":"id1","country":"BE","createdAt":"2026-01-01T00:00:00Z","documentNumber":"2","email":"e","givenName":"Zoë <b>","nationalNumber":"1","phone":"p","surname":"A&B","type":"Smart-ID account application"}`
	if string(doc) != want {
		t.Fatalf("got  %s\nwant %s", doc, want)
	}
}

func TestFieldChecks(t *testing.T) {
	for nn, ok := range map[string]bool{
		"90051724605": true,  // born 1990
		"85073100130": true,  // born 1985
		"05021412369": false, // bad check digits
		"9005172460":  false,
		"9005172460a": false,
	} {
		if validNationalNumber(nn) != ok {
			t.Errorf("validNationalNumber(%s) != %v", nn, ok)
		}
	}
	// Born in 2000 or later: the check uses 2 prefixed to the first nine digits.
	base := int64(50214123) // 05.02.14-123
	nn := fmt.Sprintf("%09d%02d", base, 97-(2_000_000_000+base)%97)
	if !validNationalNumber(nn) {
		t.Errorf("post-2000 number %s refused", nn)
	}
	for in, want := range map[string]string{
		"0470 12 34 56":      "+32470123456",
		"+32 (470) 12.34.56": "+32470123456",
		"0032470123456":      "+32470123456",
		"+31 6 12345678":     "+31612345678",
	} {
		if got := normalisePhone(in); got != want {
			t.Errorf("normalisePhone(%q) = %q, want %q", in, got, want)
		}
	}
	for e, ok := range map[string]bool{
		"lotte@example.org": true, "a.b+c@sub.example.be": true,
		"lotte@example": false, "lotte@": false, "@example.org": false, "a b@example.org": false,
		"Lotte <lotte@example.org>": false, "lotte@example.org.": false,
	} {
		if validEmail(e) != ok {
			t.Errorf("validEmail(%q) != %v", e, ok)
		}
	}
}

func TestSessionStoreBounded(t *testing.T) {
	now := time.Now()
	s := newSessionStore(3, func() time.Time { return now }, time.Minute)
	var ids []string
	for _, c := range []string{"a", "b", "c"} {
		ids = append(ids, s.create(c).id)
	}
	// Full: a newcomer is refused, nobody is evicted for it.
	if ss := s.create("d"); ss != nil {
		t.Fatal("a session was created in a full table")
	}
	for _, id := range ids {
		if s.get(id) == nil {
			t.Errorf("session %s evicted", id)
		}
	}
	// Expiry makes room.
	now = now.Add(2 * time.Minute)
	if s.get(ids[0]) != nil {
		t.Error("expired session returned")
	}
	if s.create("d") == nil {
		t.Error("no room after expiry")
	}

	// One client's sessions before login are capped: its own oldest go.
	s = newSessionStore(100, func() time.Time { return now }, time.Minute)
	var mine []*session
	for range defaultPerClient + 2 {
		mine = append(mine, s.create("x"))
	}
	if s.get(mine[0].id) != nil || s.get(mine[1].id) != nil || s.get(mine[2].id) == nil {
		t.Error("the client's oldest sessions should be gone, the rest kept")
	}
	// A logged-in session no longer counts against the cap.
	unlock := s.lock()
	mine[2].person = &Person{}
	unlock()
	for range defaultPerClient {
		s.create("x")
	}
	if s.get(mine[2].id) == nil {
		t.Error("a logged-in session was evicted")
	}
}

// TestNonceFloodKeepsLogin: 50,000 anonymous nonce requests, from one
// address or from as many addresses, do not cost a user who got a nonce
// their login: the portal's sessions, like webeid's nonces, are not a pool
// strangers can flush.
func TestNonceFloodKeepsLogin(t *testing.T) {
	const flood = 50_000
	testPKIs(t)
	card := cards[sim.ProfileECC]
	for _, tc := range []struct {
		name   string
		client func(i int) string
	}{
		{"one address", func(int) string { return "198.51.100.7:40000" }},
		{"a new address each", func(i int) string { return fmt.Sprintf("203.0.%d.%d:40000", i/250%250, i%250) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.ProfileECC)
			st, m := h.post("/api/nonce", "{}")
			if st != 200 {
				t.Fatalf("nonce: %d %v", st, m)
			}
			handler := h.portal.Handler()
			busy := 0
			for i := range flood {
				req := httptest.NewRequest("POST", "/api/nonce", strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
				req.RemoteAddr = tc.client(i)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				switch rec.Code {
				case 200:
				case 503:
					busy++
				default:
					t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
				}
			}
			t.Logf("%d of %d flood requests answered BUSY", busy, flood)
			if st, m := h.post("/api/login", token(t, card, testOrigin, m["nonce"].(string))); st != 200 {
				t.Fatalf("login after the flood: %d %v", st, m)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	v, _ := webeid.NewValidator(webeid.Config{Origin: testOrigin, Roots: x509.NewCertPool()})
	if _, err := New(Config{}); err == nil {
		t.Error("no validator accepted")
	}
	if _, err := New(Config{Validator: v, BridgeURL: "http://127.0.0.1:1/v1"}); err == nil {
		t.Error("http bridge URL accepted")
	}
	p, err := New(Config{Validator: v, BridgeURL: "ws://127.0.0.1:9999/v1"})
	if err != nil || !strings.Contains(p.csp, "ws://localhost:9999 http://localhost:9999;") || strings.Contains(p.csp, "[::1]") {
		t.Errorf("custom bridge: %v %q", err, p.csp)
	}
}

// TestRevokedCard: the portal asks the card's OCSP responder at login and
// at signature time, refuses a revoked certificate, and refuses (as "try
// later", not as the card's fault) when the responder cannot be reached.
func TestRevokedCard(t *testing.T) {
	testPKIs(t)
	card := cards[sim.ProfileECC]
	login := func(h *harness) (int, map[string]any) {
		_, m := h.post("/api/nonce", "{}")
		return h.post("/api/login", token(t, card, testOrigin, m["nonce"].(string)))
	}
	t.Run("at login", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		h.ocsp.Revoke(card.AuthCert())
		if st, m := login(h); st != 401 || errCode(m) != "CERTIFICATE_REVOKED" {
			t.Fatalf("login with a revoked card: %d %v", st, m)
		}
		h.ocsp.Unrevoke(card.AuthCert()) // suspension lifted
		// The answer "revoked" is reused for a while (webeid caches it),
		// then asked again.
		h.clock.Advance(webeid.DefaultOCSPCacheTTL + time.Second)
		if st, m := login(h); st != 200 {
			t.Fatalf("login after the suspension ended: %d %v", st, m)
		}
	})
	t.Run("at signature", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		h.login(card)
		h.register()
		st, app := h.post("/api/application", validApplication(card))
		if st != 200 {
			t.Fatalf("application %d %v", st, app)
		}
		h.ocsp.Revoke(card.SignCert())
		if st, m := h.post("/api/application/"+app["id"].(string)+"/signature", sign(t, card, app)); st != 401 || errCode(m) != "CERTIFICATE_REVOKED" {
			t.Fatalf("signature with a revoked certificate: %d %v", st, m)
		}
		if n := len(h.portal.Submissions()); n != 0 {
			t.Errorf("%d submissions recorded", n)
		}
	})
	t.Run("responder unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close() // a port nobody listens on any more
		h := newHarnessWith(t, sim.ProfileECC, func(cfg *webeid.Config) { cfg.Revocation.Responders[0].URL = dead.URL })
		if st, m := login(h); st != 503 || errCode(m) != "REVOCATION_UNAVAILABLE" {
			t.Fatalf("login with the responder down: %d %v", st, m)
		}
	})
}
