// Package e2e runs the whole product the way a citizen uses it: headless
// Chromium opens the demo portal, which talks to the cardbridge daemon
// (package bridge) over the loopback WebSocket, which talks to a simulated
// Belgian eID card. The daemon's dialogs are answered by the scripted test
// prompter (consent when the page connects: allow always; PIN: correct;
// signature: confirm).
//
// TestBrowserFlowRig reads the card through the real PC/SC stack (pcscd and
// vpcd, see internal/rig); TestBrowserFlowSim reads it in process
// (bridge/simreaders) and needs no pcscd. Screenshots of each run land in
// e2e/artifacts/ (not committed).
//
// The tests need Chromium (/usr/bin/chromium, Debian's package), node and
// web/node_modules (npm ci in web/). Without them they skip loudly, unless
// CARDBRIDGE_E2E=required, in which case they fail: web/ci.sh sets it.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
	"github.com/cardbridge/cardbridge/cmd/demoportal/portal"
	"github.com/cardbridge/cardbridge/webeid"
)

const simReader = "Virtual PCD 00 00"

// tools are the external programs the browser test needs.
type tools struct {
	chromium, node string
}

// requireBrowser finds Chromium, node and playwright-core, or skips (or
// fails, with CARDBRIDGE_E2E=required) saying what is missing and how to
// get it.
func requireBrowser(t *testing.T) tools {
	t.Helper()
	mode := os.Getenv("CARDBRIDGE_E2E")
	if mode == "off" {
		t.Skip("CARDBRIDGE_E2E=off")
	}
	var missing []string
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "chromium ("+chromium+"; apt-get install -y chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join("..", "web", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core (cd web && npm ci)")
	}
	if len(missing) > 0 {
		msg := "END-TO-END BROWSER TEST NOT RUN: missing " + strings.Join(missing, ", ") + "; web/ci.sh installs them"
		if mode == "required" {
			t.Fatal(msg)
		}
		t.Skip("\n\n*** " + msg + " ***\n")
	}
	return tools{chromium: chromium, node: node}
}

// flowResult is what flow.mjs prints.
type flowResult struct {
	Locale     string `json:"locale"`
	Lang       string `json:"lang"` // the portal page's <html lang>
	Service    string `json:"service"`
	Transport  string `json:"transport"` // the card service line's data-transport: extension or websocket
	Reader     string `json:"reader"`
	Login      string `json:"login"`
	EmailError string `json:"emailError"`
	// The phone-app stand-in.
	PhoneCode      string `json:"phoneCode"`
	PhoneCountdown string `json:"phoneCountdown"`
	PhoneLang      string `json:"phoneLang"`
	PhoneAfterCode string `json:"phoneAfterCode"`
	PhoneDone      string `json:"phoneDone"`
	ActiveUntil    string `json:"activeUntil"`
	ActiveUntilISO string `json:"activeUntilISO"`
	// The registration code refused.
	CodeError     string `json:"codeError"`
	CodeErrorCode string `json:"codeErrorCode"`
	// The end page after switching the language to French.
	Switched map[string]string `json:"switched"`
	// Set only with CODE_RENEWAL: the phone's first and next code, and
	// what the page said when given the first after it expired.
	FirstCode        string `json:"firstCode"`
	RenewedCode      string `json:"renewedCode"`
	ExpiredError     string `json:"expiredError"`
	ExpiredErrorCode string `json:"expiredErrorCode"`
	// The application summary and the card checks.
	Summary     map[string]string `json:"summary"`
	Integrity   string            `json:"integrity"`
	Genuine     string            `json:"genuine"`
	GenuineText string            `json:"genuineText"`
	// The summary's warning and the card software's lines behind it.
	Warning         string   `json:"warning"`
	IntegrityErrors []string `json:"integrityErrors"`
	// The end page.
	Reference   string `json:"reference"`
	SignedBy    string `json:"signedBy"`
	SubmittedAt string `json:"submittedAt"`
	Heading     string `json:"heading"`
	// Set only with EXPECT_SERVICE_ERROR.
	ServiceError   string   `json:"serviceError"`
	Help           string   `json:"help"`
	Downloads      []string `json:"downloads"`
	OtherDownloads []string `json:"otherDownloads"`
	// Set only with EXPECT_LOGIN_REFUSED.
	LoginError     string `json:"loginError"`
	LoginErrorCode string `json:"loginErrorCode"`
	// Set only with HOSTILE: per page stage, whether the planted string
	// showed as text.
	HostileShown map[string]bool `json:"hostileShown"`
	Problems     []string        `json:"problems"`
}

// language is what the page must show for one browser locale.
type language struct {
	locale     string // the browser's
	lang       string // the page's
	loggedIn   string // in the login line
	codeWrong  string // the message for a wrong registration code
	done       string // the end page's heading starts so
	phoneDone  string // the phone's last screen
	activeWord string // before the date on the phone
	genuineNA  string // card genuineness when not reported
	revoked    string // the refusal of a revoked card
}

var (
	dutch = language{
		locale: "nl-BE", lang: "nl", loggedIn: "Aangemeld als", codeWrong: "Dit is niet de code die de Smart-ID-app toont",
		done: "Ga terug naar je smartphone of tablet", phoneDone: "Registratie voltooid!", activeWord: "Account actief tot ",
		genuineNA: "niet beschikbaar", revoked: "het certificaat van je kaart is ingetrokken",
	}
	english = language{
		locale: "en-GB", lang: "en", loggedIn: "Logged in as", codeWrong: "This is not the code the Smart-ID app shows",
		done: "Go back to your smartphone or tablet", phoneDone: "Registration complete!", activeWord: "Account active until ",
		genuineNA: "not available", revoked: "your card's certificate has been revoked",
	}
)

// world is one running daemon and portal.
type world struct {
	origin   string
	portal   *portal.Portal
	prompter *bridgetest.Prompter
	server   *bridge.Server     // nil when no daemon runs
	ocsp     *sim.OCSPResponder // the portal's designated responder; Revoke a card's certificates here
}

// startWorld starts the daemon over readers and the portal trusting pki's
// root, both on free loopback ports, stopped at the end of the test.
func startWorld(t *testing.T, readers bridge.Readers, pki *sim.PKI) *world {
	return startWorldWith(t, readers, pki, nil)
}

// startWorldWith is startWorld with a chance to adjust the daemon's Config.
func startWorldWith(t *testing.T, readers bridge.Readers, pki *sim.PKI, tweak func(*bridge.Config)) *world {
	t.Helper()
	return startWorldOn(t, "localhost", readers, pki, tweak)
}

// startWorldOn is startWorldWith with the portal at https://host:PORT.
func startWorldOn(t *testing.T, host string, readers bridge.Readers, pki *sim.PKI, tweak func(*bridge.Config), portalOpts ...func(*portal.Config)) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// The daemon's dialogs, answered as a cooperative user would.
	pr := &bridgetest.Prompter{}
	pr.AllowConsent(bridge.AllowAlways)
	pr.EnterPIN("1234") // authenticate
	pr.Confirm(bridgetest.ConfirmSignature, true)
	pr.EnterPIN("1234") // sign

	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bport := bln.Addr().(*net.TCPAddr).Port
	cfg := bridge.Config{Port: bport, Readers: readers, Prompter: pr, Version: "0.1.0-e2e", Logger: testLogger(t).With("side", "daemon")}
	if tweak != nil {
		tweak(&cfg)
		if p, ok := cfg.Prompter.(*bridgetest.Prompter); ok {
			pr = p // a case that scripts the dialogs its own way
		}
	}
	srv, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, bln)
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(sctx)
	})
	w := startPortalOn(t, host, pki, bport, pr, portalOpts...)
	w.server = srv
	return w
}

// startPortal starts the demo portal trusting pki's root and pointing its
// pages at the daemon on bridgePort.
func startPortal(t *testing.T, pki *sim.PKI, bridgePort int, pr *bridgetest.Prompter) *world {
	t.Helper()
	return startPortalOn(t, "localhost", pki, bridgePort, pr)
}

// startPortalOn is startPortal with the portal at https://host:PORT.
func startPortalOn(t *testing.T, host string, pki *sim.PKI, bridgePort int, pr *bridgetest.Prompter, opts ...func(*portal.Config)) *world {
	t.Helper()
	logger := testLogger(t)
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("https://%s:%d", host, pln.Addr().(*net.TCPAddr).Port)
	// The test PKI's OCSP responder on loopback, as the portal's
	// designated responder: the cards were made before its URL existed.
	ocsp := pki.OCSPResponder()
	osrv := httptest.NewServer(ocsp)
	t.Cleanup(osrv.Close)
	v, err := webeid.NewValidator(webeid.Config{
		Origin: origin, Roots: pki.Roots(), Intermediates: pki.Intermediates(),
		Policies:   webeid.Policies{Authentication: []x509.OID{sim.AuthenticationPolicy()}, Signing: []x509.OID{sim.SignaturePolicy()}},
		Revocation: webeid.RevocationConfig{Responders: []webeid.OCSPResponder{{URL: osrv.URL, Certificate: ocsp.Certificate(), RequireNonce: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pcfg := portal.Config{Validator: v, BridgeURL: fmt.Sprintf("ws://127.0.0.1:%d/v1", bridgePort), Logger: logger.With("side", "portal")}
	for _, o := range opts {
		o(&pcfg)
	}
	p, err := portal.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := portal.SelfSignedCertificate([]string{host, "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p.Handler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	go hs.ServeTLS(pln, "", "")
	t.Cleanup(func() { hs.Close() })
	if pr == nil {
		pr = &bridgetest.Prompter{}
	}
	return &world{origin: origin, portal: p, prompter: pr, ocsp: ocsp}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// runBrowser runs flow.mjs against the portal and returns what it saw.
func runBrowser(t *testing.T, tl tools, w *world, name string, env ...string) flowResult {
	t.Helper()
	return runFlowScript(t, tl, w, "flow.mjs", name, env...)
}

// runFlowScript runs script, flow.mjs or a script that runs it in a browser
// set up its own way, and returns what it printed.
func runFlowScript(t *testing.T, tl tools, w *world, script, name string, env ...string) flowResult {
	t.Helper()
	var res flowResult
	runScript(t, tl, w, script, name, &res, env...)
	return res
}

// runScript runs a node script that drives a browser through w's portal
// and decodes the JSON line it prints last into res.
func runScript(t *testing.T, tl tools, w *world, script, name string, res any, env ...string) {
	t.Helper()
	if err := os.MkdirAll("artifacts", 0o755); err != nil {
		t.Fatal(err)
	}
	shot, _ := filepath.Abs(filepath.Join("artifacts", "flow-"+name+".png"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tl.node, script)
	cmd.Env = append(os.Environ(),
		"PORTAL_URL="+w.origin+"/",
		"SHOTS_DIR=", // only where a test asks for them
		"CHROMIUM="+tl.chromium,
		"SCREENSHOT="+shot,
		"USER_DATA="+t.TempDir(),
	)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	line := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	jerr := json.Unmarshal([]byte(line), res)
	if err != nil || jerr != nil {
		t.Fatalf("%s failed: %v (json: %v)\nstdout: %s\nstderr: %s\nprompter saw: %+v", script, err, jerr, stdout.String(), stderr.String(), w.prompter.Calls())
	}
	t.Logf("browser: %+v (screenshot %s)", res, shot)
}

// checkFlow asserts what the page showed, in the language of lang, what
// the portal's server recorded and what the daemon asked the user.
func checkFlow(t *testing.T, w *world, card *sim.Card, lang language, res flowResult) {
	t.Helper()
	id := card.Person().Identity

	// The page.
	if len(res.Problems) > 0 {
		t.Errorf("page errors: %q", res.Problems)
	}
	if res.Lang != lang.lang || res.PhoneLang != lang.lang {
		t.Errorf("browser locale %s: portal page in %q, phone page in %q, want %q", lang.locale, res.Lang, res.PhoneLang, lang.lang)
	}
	if !strings.Contains(res.Service, "0.1.0-e2e") {
		t.Errorf("service line %q", res.Service)
	}
	if !strings.Contains(res.Login, lang.loggedIn+" "+id.GivenNames+" "+id.Surname) {
		t.Errorf("login line %q", res.Login)
	}
	if res.EmailError == "" {
		t.Error("a bad e-mail address was not flagged")
	}

	// Steps 3 and 4: the code the phone showed, refused when wrong.
	if !regexp.MustCompile(`^[2-9A-HJ-NP-Z]{5}$`).MatchString(res.PhoneCode) {
		t.Errorf("phone shows code %q", res.PhoneCode)
	}
	if !regexp.MustCompile(`^1[45]:[0-5][0-9]$`).MatchString(res.PhoneCountdown) {
		t.Errorf("phone countdown %q, want about 15 minutes", res.PhoneCountdown)
	}
	if res.CodeErrorCode != "CODE_WRONG" || !strings.HasPrefix(res.CodeError, lang.codeWrong) {
		t.Errorf("wrong code: page shows %s %q", res.CodeErrorCode, res.CodeError)
	}
	if res.PhoneAfterCode != "confirmed" {
		t.Errorf("phone after the right code: %q", res.PhoneAfterCode)
	}

	// Step 5: the application as the guide's "Aanvraag voor Smart-ID-account".
	sum := res.Summary
	if sum["surname"] != id.Surname || sum["givenName"] != id.GivenNames || sum["documentNumber"] != id.CardNumber ||
		sum["countryCode"] != "BE" || sum["country"] == "" || sum["email"] != "lotte.vandenbossche@example.org" || sum["phone"] != "+32470123456" {
		t.Errorf("summary %v, card %+v", sum, id)
	}
	if strings.NewReplacer(".", "", "-", "").Replace(sum["nationalNumber"]) != id.NationalNumber {
		t.Errorf("summary national number %q", sum["nationalNumber"])
	}
	if res.Integrity != "ok" {
		t.Errorf("integrity shown as %q", res.Integrity)
	}
	// Applet 1.8 cards prove they are genuine; 1.7 cards cannot.
	wantGenuine := map[sim.Profile]string{sim.ProfileECC: "ok", sim.ProfileRSA: "na"}[card.Profile()]
	if res.Genuine != wantGenuine || (wantGenuine == "na" && res.GenuineText != lang.genuineNA) {
		t.Errorf("genuineness shown as %s %q, want %s", res.Genuine, res.GenuineText, wantGenuine)
	}

	// Step 6: back to the phone, which shows the account as active.
	if !strings.HasPrefix(res.Heading, lang.done) {
		t.Errorf("final heading %q", res.Heading)
	}
	if res.PhoneDone != lang.phoneDone || !strings.HasPrefix(res.ActiveUntil, lang.activeWord) {
		t.Errorf("phone at the end: %q %q", res.PhoneDone, res.ActiveUntil)
	}
	// The switch puts the whole page, dates included, in French.
	if sw := res.Switched; sw["lang"] != "fr" || !strings.HasPrefix(sw["heading"], "Retournez sur votre smartphone") ||
		sw["step"] != "Demande" || sw["submittedAt"] == res.SubmittedAt || sw["submittedAt"] == "" {
		t.Errorf("after switching to French: %v (was %q)", sw, res.SubmittedAt)
	}
	until, err := time.Parse(time.RFC3339, res.ActiveUntilISO)
	if err != nil || until.Sub(time.Now().AddDate(3, 0, 0)).Abs() > time.Hour {
		t.Errorf("account active until %q (%v), want three years from now", res.ActiveUntilISO, err)
	}
	// The date in the local form of the language (Intl.DateTimeFormat with
	// nl-BE gives day/month/year).
	if lang.lang == "nl" {
		if want := fmt.Sprintf("%02d/%02d/%d", until.Local().Day(), int(until.Local().Month()), until.Local().Year()); !strings.HasSuffix(res.ActiveUntil, want) {
			t.Errorf("phone date %q, want %s", res.ActiveUntil, want)
		}
	}

	// The portal's server: one validated login, one verified signature,
	// by the card's holder, with the contact details given with the code.
	logins := w.portal.Logins()
	if len(logins) != 1 {
		t.Fatalf("%d logins recorded", len(logins))
	}
	if logins[0].Person.NationalNumber != id.NationalNumber || !logins[0].Certificate.Equal(card.AuthCert()) {
		t.Errorf("login %+v", logins[0].Person)
	}
	subs := w.portal.Submissions()
	if len(subs) != 1 {
		t.Fatalf("%d submissions recorded", len(subs))
	}
	sub := subs[0]
	if sub.Reference != res.Reference {
		t.Errorf("page shows reference %q, server recorded %q", res.Reference, sub.Reference)
	}
	if !sub.Certificate.Equal(card.SignCert()) || sub.Application.NationalNumber != id.NationalNumber || sub.Application.Email != "lotte.vandenbossche@example.org" || sub.Application.Phone != "+32470123456" {
		t.Errorf("submission %+v", sub.Application)
	}
	if err := webeid.VerifySignature(sub.Certificate, sub.Hash, sub.Digest, sub.Signature); err != nil {
		t.Errorf("recorded signature: %v", err)
	}

	// The daemon's dialogs: each showed the portal's origin; the signature
	// dialog showed the document name and the digest the portal issued.
	// Consent comes first, at the page's connection (the handshake waits
	// for it), before any card method; then the login's PIN, and the
	// signature's confirmation and PIN.
	var kinds []string
	for _, c := range w.prompter.Calls() {
		kinds = append(kinds, c.Kind.String()+"/"+c.Purpose)
		if c.Origin != w.origin {
			t.Errorf("%v dialog showed origin %q, want %q", c.Kind, c.Origin, w.origin)
		}
		if c.Kind == bridgetest.ConfirmSignature {
			if c.DocumentName != portal.DocumentName || !strings.EqualFold(c.DigestHex, hex.EncodeToString(sub.Digest)) {
				t.Errorf("signature dialog showed %q %s", c.DocumentName, c.DigestHex)
			}
		}
	}
	want := []string{"consent/", "pin/authenticate", "confirm-signature/", "pin/sign"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("dialogs %v, want %v", kinds, want)
	}
}

// profileLanguages runs the ECC card in Dutch and the RSA card in English.
var profileLanguages = map[sim.Profile]language{sim.ProfileECC: dutch, sim.ProfileRSA: english}

// TestBrowserFlowSim runs the flow with the daemon reading an in-process
// simulated card (bridge/simreaders): no pcscd needed.
func TestBrowserFlowSim(t *testing.T) {
	tl := requireBrowser(t)
	for _, profile := range []sim.Profile{sim.ProfileECC, sim.ProfileRSA} {
		t.Run(profile.String(), func(t *testing.T) {
			card, err := sim.New(sim.Options{Profile: profile})
			if err != nil {
				t.Fatal(err)
			}
			readers := simReaders(t, card)
			w := startWorld(t, readers, card.PKI())
			lang := profileLanguages[profile]
			env := []string{"LOCALE=" + lang.locale}
			if dir := os.Getenv("CARDBRIDGE_SCREENSHOTS"); dir != "" && lang == dutch {
				env = append(env, "SHOTS_DIR="+dir)
			}
			res := runBrowser(t, tl, w, "sim-"+profile.String(), env...)
			checkFlow(t, w, card, lang, res)
		})
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestBrowserServiceErrors checks what the page tells the user when the
// daemon is not running, and when it runs but refuses the portal's origin:
// the browser hides the difference from the WebSocket API, and the client
// tells them apart with its health probe.
func TestBrowserServiceErrors(t *testing.T) {
	tl := requireBrowser(t)
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		setup       func(t *testing.T) *world
		wantCode    string
		wantText    string
		wantDialogs int // consent dialogs the daemon showed
	}{
		{"not running", func(t *testing.T) *world {
			// A port nothing listens on.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			return startPortal(t, card.PKI(), port, nil)
		}, "DAEMON_UNAVAILABLE", "not running", 0},
		{"origin refused", func(t *testing.T) *world {
			return startWorldWith(t, simReaders(t, card), card.PKI(), func(c *bridge.Config) { c.OnlyAllowedOrigins = true })
		}, "ORIGIN_NOT_ALLOWED", "refused this site", 0},
		{"consent denied", func(t *testing.T) *world {
			// The user reads the consent dialog for a moment, then clicks
			// Deny: the page must tell that from a refusal by policy.
			pr := &bridgetest.Prompter{}
			answered := make(chan struct{})
			pr.Push(bridgetest.Consent, bridgetest.Answer{Decision: bridge.Deny, Hold: answered})
			opened := pr.Opened()
			go func() {
				select {
				case <-opened:
				case <-time.After(3 * time.Minute): // the flow's own limit
					return
				}
				time.Sleep(1500 * time.Millisecond)
				close(answered)
			}()
			return startWorldWith(t, simReaders(t, card), card.PKI(), func(c *bridge.Config) { c.Prompter = pr })
		}, "CONSENT_DENIED", "did not allow this site", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.setup(t)
			res := runBrowser(t, tl, w, "error-"+strings.ReplaceAll(tc.name, " ", "-"), "EXPECT_SERVICE_ERROR=1")
			if res.ServiceError != tc.wantCode || !strings.Contains(res.Service, tc.wantText) {
				t.Errorf("page shows %s %q, want %s %q", res.ServiceError, res.Service, tc.wantCode, tc.wantText)
			}
			if res.Help == "" {
				t.Error("no help text shown")
			}
			if tc.wantCode == "DAEMON_UNAVAILABLE" {
				// Chromium on Linux: the Debian and Fedora packages first,
				// the other systems' downloads offered too.
				const base = "https://github.com/cardbridge/cardbridge/releases/latest/download/"
				want := []string{base + "cardbridge-linux-amd64.deb", base + "cardbridge-linux-x86_64.rpm"}
				others := []string{base + "cardbridge-windows-x64.msi", base + "cardbridge-macos-x64.pkg", base + "cardbridge-macos-arm64.pkg"}
				if strings.Join(res.Downloads, " ") != strings.Join(want, " ") || strings.Join(res.OtherDownloads, " ") != strings.Join(others, " ") {
					t.Errorf("downloads offered %v, others %v; want %v, others %v", res.Downloads, res.OtherDownloads, want, others)
				}
			} else if len(res.Downloads) > 0 {
				t.Errorf("downloads offered when the card software is running: %v", res.Downloads)
			}
			if len(res.Problems) > 0 {
				t.Errorf("page errors: %q", res.Problems)
			}
			if n := len(w.portal.Logins()); n != 0 {
				t.Errorf("%d logins", n)
			}
			calls := w.prompter.Calls()
			if len(calls) != tc.wantDialogs {
				t.Errorf("dialogs %+v, want %d consent dialogs", calls, tc.wantDialogs)
			}
			for _, c := range calls {
				if c.Kind != bridgetest.Consent || c.Origin != w.origin {
					t.Errorf("dialog %+v, want consent for %s", c, w.origin)
				}
			}
		})
	}
}

// TestBrowserRevokedCard: the card's authentication certificate is revoked
// at the portal's OCSP responder; the portal refuses the login, and the
// page says why in the citizen's language. (TestBrowserFlowRig runs the
// same over PC/SC.)
func TestBrowserRevokedCard(t *testing.T) {
	tl := requireBrowser(t)
	for _, lang := range []language{dutch, english} {
		t.Run(lang.lang, func(t *testing.T) {
			card, err := sim.New(sim.Options{Profile: sim.ProfileECC})
			if err != nil {
				t.Fatal(err)
			}
			checkRevoked(t, tl, startWorld(t, simReaders(t, card), card.PKI()), card, lang, "revoked-sim-"+lang.lang)
		})
	}
}

// checkRevoked revokes card's authentication certificate at w's OCSP
// responder and runs the flow up to the login, which must be refused with
// the page saying the card is revoked. No signature is asked for.
func checkRevoked(t *testing.T, tl tools, w *world, card *sim.Card, lang language, name string) {
	t.Helper()
	w.ocsp.Revoke(card.AuthCert())
	res := runBrowser(t, tl, w, name, "LOCALE="+lang.locale, "EXPECT_LOGIN_REFUSED=1")
	if res.LoginErrorCode != "CERTIFICATE_REVOKED" || !strings.Contains(res.LoginError, lang.revoked) {
		t.Errorf("page shows %s %q, want CERTIFICATE_REVOKED saying %q", res.LoginErrorCode, res.LoginError, lang.revoked)
	}
	if len(res.Problems) > 0 {
		t.Errorf("page errors: %q", res.Problems)
	}
	if n := len(w.portal.Logins()); n != 0 {
		t.Errorf("%d logins recorded", n)
	}
	var kinds []string
	for _, c := range w.prompter.Calls() {
		kinds = append(kinds, c.Kind.String()+"/"+c.Purpose)
	}
	if want := "consent/ pin/authenticate"; strings.Join(kinds, " ") != want {
		t.Errorf("dialogs %v, want %s", kinds, want)
	}
}

// TestBrowserHostileText plants markup where the page shows values from
// outside: the reader name and version the card software reports and the
// names on the card (so in its certificates too). The page must show the
// characters and build no element from them; flow.mjs fails the run if an
// element with the planted class appears anywhere, hidden or not.
func TestBrowserHostileText(t *testing.T) {
	tl := requireBrowser(t)
	const hostile = `<img class="pwned" src="data:,"><b class="pwned">x</b>`
	person := sim.DefaultPerson()
	person.Identity.GivenNames = "Lotte " + hostile
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC, Person: person})
	if err != nil {
		t.Fatal(err)
	}
	reader := "Reader " + hostile
	readers := simreaders.New(reader)
	if err := readers.Insert(reader, card); err != nil {
		t.Fatal(err)
	}
	w := startWorldWith(t, readers, card.PKI(), func(c *bridge.Config) { c.Version = "0.1.0 " + hostile })
	res := runBrowser(t, tl, w, "hostile", "LOCALE=en-GB", "HOSTILE="+hostile)
	if len(res.Problems) > 0 {
		t.Errorf("page errors: %q", res.Problems)
	}
	for _, stage := range []string{"readers", "summary", "done"} {
		if !res.HostileShown[stage] {
			t.Errorf("%s: the planted string is not shown as text (%v)", stage, res.HostileShown)
		}
	}
	if res.Reader != reader || !strings.Contains(res.Service, hostile) || res.Summary["givenName"] != person.Identity.GivenNames {
		t.Errorf("page shows reader %q, service %q, given names %q", res.Reader, res.Service, res.Summary["givenName"])
	}
	if subs := w.portal.Submissions(); len(subs) != 1 || subs[0].Application.GivenName != person.Identity.GivenNames {
		t.Errorf("submissions %+v", subs)
	}
}

// TestBrowserCodeRenewal runs the registration with codes that live a few
// seconds: the phone stand-in counts down and shows a new code by itself
// when one runs out; the portal refuses the old code as expired, saying
// so, and takes the new one.
func TestBrowserCodeRenewal(t *testing.T) {
	tl := requireBrowser(t)
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 8 * time.Second
	w := startWorldOn(t, "localhost", simReaders(t, card), card.PKI(), nil, func(c *portal.Config) { c.RegistrationCodeTTL = ttl })
	res := runBrowser(t, tl, w, "renewal", "LOCALE=nl-BE", "CODE_RENEWAL=1")
	if len(res.Problems) > 0 {
		t.Errorf("page errors: %q", res.Problems)
	}
	if res.PhoneCountdown != "0:08" && res.PhoneCountdown != "0:07" {
		t.Errorf("phone countdown %q at first, want 0:08", res.PhoneCountdown)
	}
	if res.RenewedCode == "" || res.RenewedCode == res.FirstCode {
		t.Errorf("phone showed %q, then %q: no new code", res.FirstCode, res.RenewedCode)
	}
	if res.ExpiredErrorCode != "CODE_EXPIRED" || !strings.HasPrefix(res.ExpiredError, "Deze code is verlopen") {
		t.Errorf("old code: page shows %s %q", res.ExpiredErrorCode, res.ExpiredError)
	}
	if res.PhoneDone != dutch.phoneDone || len(w.portal.Submissions()) != 1 {
		t.Errorf("registration not completed: phone %q, %d submissions", res.PhoneDone, len(w.portal.Submissions()))
	}
}

// TestBrowserCounterfeitCard: a card made from a genuine card's files with
// a chip key of its own passes the file checks but not the genuineness
// check; the summary shows the file checks passed and the genuineness
// check failed, and warns, in the citizen's language, with the card
// software's reason.
func TestBrowserCounterfeitCard(t *testing.T) {
	tl := requireBrowser(t)
	card, err := sim.New(sim.Options{Profile: sim.ProfileECC, ForeignBasicKey: true})
	if err != nil {
		t.Fatal(err)
	}
	w := startWorld(t, simReaders(t, card), card.PKI())
	res := runBrowser(t, tl, w, "counterfeit", "LOCALE=nl-BE", "EXPECT_COUNTERFEIT=1")
	if len(res.Problems) > 0 {
		t.Errorf("page errors: %q", res.Problems)
	}
	if res.Genuine != "failed" || res.Integrity != "ok" || !strings.HasPrefix(res.GenuineText, "MISLUKT") {
		t.Errorf("checks shown: integrity %q, genuineness %q %q", res.Integrity, res.Genuine, res.GenuineText)
	}
	if !strings.Contains(res.Warning, "het kan een kopie zijn") || len(res.IntegrityErrors) != 1 {
		t.Errorf("warning %q, lines %q", res.Warning, res.IntegrityErrors)
	}
	if n := len(w.portal.Submissions()); n != 0 {
		t.Errorf("%d submissions", n)
	}
}
