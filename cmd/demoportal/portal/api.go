package portal

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cardbridge/cardbridge/webeid"
)

// maxBody bounds API request bodies; the largest is a token or a
// signature with a certificate, a few KB.
const maxBody = 64 << 10

// apiError is the JSON error body: {"error":{"code":..,"message":..}}.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fields names each bad form field with "required" or "invalid", so
	// that the page can say it in the citizen's language.
	Fields map[string]string `json:"fields,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newAPIError(status int, code, msg string) *apiError {
	return &apiError{status: status, Code: code, Message: msg}
}

func errBadRequest(code, msg string) *apiError {
	return newAPIError(http.StatusBadRequest, code, msg)
}

// api wraps a JSON POST handler: it refuses cross-site requests (a JSON
// content type forces a CORS preflight, and the Origin header, when sent,
// must be ours), bounds the body and renders errors.
func (p *Portal) api(h func(w http.ResponseWriter, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if o := r.Header.Get("Origin"); o != "" && o != p.v.Origin() {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": &apiError{Code: "FORBIDDEN_ORIGIN", Message: "cross-origin request refused"}})
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": &apiError{Code: "BAD_CONTENT_TYPE", Message: "send application/json"}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		out, err := h(w, r)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				p.log.Error("internal error", "path", r.URL.Path, "err", err)
				ae = newAPIError(http.StatusInternalServerError, "INTERNAL", "internal error")
			}
			writeJSON(w, ae.status, map[string]any{"error": ae})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("BAD_JSON", "request body is not the expected JSON: "+err.Error())
	}
	return nil
}

// GET /api/config: what the page needs to find the daemon.
func (p *Portal) handleConfig(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"bridgeUrl":    p.bridgeURL,
		"origin":       p.v.Origin(),
		"documentName": DocumentName,
		"language":     negotiateLanguage(r.Header.Get("Accept-Language")),
		"languages":    Languages,
	})
}

// GET /api/session: the logged-in person (or null), so a reload keeps the
// state. Not logged in is a normal answer here, not an error.
func (p *Portal) handleSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ss, err := p.loggedIn(r)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"person": nil})
		return
	}
	unlock := p.sessions.lock()
	person := *ss.person
	unlock()
	writeJSON(w, http.StatusOK, map[string]any{"person": person})
}

// POST /api/nonce: a fresh challenge nonce, remembered in the browser's
// session so that login checks the token against the nonce this browser
// was given.
func (p *Portal) handleNonce(w http.ResponseWriter, r *http.Request) (any, error) {
	ss, err := p.sessionOrNew(w, r)
	if err != nil {
		return nil, err
	}
	unlock := p.sessions.lock()
	sessionID := ss.id
	unlock()
	// The nonce is issued to this session: webeid accepts it for no other.
	nonce, err := p.v.NewNonce(r.Context(), sessionID)
	if errors.Is(err, webeid.ErrNonceStoreFull) {
		return nil, newAPIError(http.StatusServiceUnavailable, "BUSY", "too many logins in progress; please try again in a minute")
	}
	if err != nil {
		return nil, err
	}
	unlock = p.sessions.lock()
	ss.nonce = nonce
	unlock()
	return map[string]string{"nonce": nonce}, nil
}

// POST /api/login: body is the Web eID token from the daemon.
func (p *Portal) handleLogin(w http.ResponseWriter, r *http.Request) (any, error) {
	var tok webeid.AuthToken
	if err := decodeJSONLenient(r, &tok); err != nil {
		return nil, err
	}
	ss := p.session(r)
	if ss == nil {
		return nil, newAPIError(http.StatusUnauthorized, "NO_SESSION", "no challenge was issued to this browser; request a nonce first")
	}
	unlock := p.sessions.lock()
	nonce, sessionID := ss.nonce, ss.id
	ss.nonce = "" // one attempt per nonce, whatever the outcome
	unlock()

	auth, err := p.v.Validate(r.Context(), &tok, sessionID, nonce)
	if err != nil {
		p.log.Info("login refused", "err", err)
		return nil, loginError(err)
	}
	cert := auth.Certificate
	given, surname, nn := webeid.SubjectIdentity(cert)
	person := &Person{GivenName: given, Surname: surname, NationalNumber: nn}

	unlock = p.sessions.lock()
	if ss.person != nil && ss.person.NationalNumber != nn && ss.reg != nil && ss.reg.confirmed {
		// Another person logs in over a registration whose code was
		// taken: they start again from a new code.
		ss.reg = nil
	}
	ss.person = person
	ss.authCert = cert
	ss.apps = map[string]*pendingApp{}
	unlock()
	p.sessions.rotate(ss)
	p.setSessionCookie(w, ss)

	p.mu.Lock()
	p.logins = append(p.logins, Login{Person: *person, Certificate: cert, Algorithm: tok.Algorithm, At: p.now()})
	p.mu.Unlock()
	p.log.Info("login", "surname", surname, "nn", maskNN(nn), "alg", tok.Algorithm)
	return map[string]any{"person": person}, nil
}

// decodeJSONLenient decodes without refusing unknown fields: later 1.x
// token formats add some.
func decodeJSONLenient(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return errBadRequest("BAD_JSON", "request body is not the expected JSON: "+err.Error())
	}
	return nil
}

// loginError maps webeid errors to API codes. The messages stay generic
// for the page; the log has the detail.
func loginError(err error) *apiError {
	unauthorized := func(code, msg string) *apiError { return newAPIError(http.StatusUnauthorized, code, msg) }
	switch {
	case errors.Is(err, webeid.ErrNonceExpired):
		return unauthorized("NONCE_EXPIRED", "the login challenge expired; please try again")
	case errors.Is(err, webeid.ErrNonceReplayed):
		return unauthorized("NONCE_REPLAYED", "this login challenge was already used")
	case errors.Is(err, webeid.ErrNonce):
		return unauthorized("NONCE_UNKNOWN", "unknown login challenge; please try again")
	case errors.Is(err, webeid.ErrRevoked):
		return unauthorized("CERTIFICATE_REVOKED", "the card's certificate is revoked")
	case errors.Is(err, webeid.ErrRevocationUnavailable):
		return revocationUnavailable()
	case errors.Is(err, webeid.ErrCertificate):
		return unauthorized("CERTIFICATE_REJECTED", "the card's certificate is not accepted by this portal")
	case errors.Is(err, webeid.ErrSignature):
		return unauthorized("SIGNATURE_INVALID", "the authentication signature is not valid for this site")
	case errors.Is(err, webeid.ErrAlgorithm):
		return unauthorized("ALGORITHM_REJECTED", "unsupported signature algorithm")
	case errors.Is(err, webeid.ErrFormat):
		return errBadRequest("TOKEN_MALFORMED", "the authentication token is malformed")
	}
	return newAPIError(http.StatusInternalServerError, "INTERNAL", "login failed")
}

// revocationUnavailable is the answer when the card's revocation status
// cannot be checked: the portal refuses (fail closed) and says it is not
// the card's fault.
func revocationUnavailable() *apiError {
	return newAPIError(http.StatusServiceUnavailable, "REVOCATION_UNAVAILABLE", "the card's status cannot be checked right now; please try again later")
}

// POST /api/logout
func (p *Portal) handleLogout(w http.ResponseWriter, r *http.Request) (any, error) {
	if ss := p.session(r); ss != nil {
		p.sessions.delete(ss)
	}
	p.clearSessionCookie(w)
	return map[string]bool{"ok": true}, nil
}

// loggedIn returns the session of a logged-in user or a 401.
func (p *Portal) loggedIn(r *http.Request) (*session, error) {
	ss := p.session(r)
	if ss != nil {
		unlock := p.sessions.lock()
		ok := ss.person != nil
		unlock()
		if ok {
			return ss, nil
		}
	}
	return nil, newAPIError(http.StatusUnauthorized, "NOT_LOGGED_IN", "log in with your ID card first")
}

// applicationRequest is the body of POST /api/application: the identity
// as read from the card.
type applicationRequest struct {
	GivenName      string `json:"givenName"`
	Surname        string `json:"surname"`
	NationalNumber string `json:"nationalNumber"`
	DocumentNumber string `json:"documentNumber"`
	Country        string `json:"country"`
}

// POST /api/application: validates the form, canonicalises it and returns
// the digest the card must sign.
func (p *Portal) handleApplication(w http.ResponseWriter, r *http.Request) (any, error) {
	ss, err := p.loggedIn(r)
	if err != nil {
		return nil, err
	}
	var req applicationRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	// The contact details are the ones given with the registration code.
	unlock := p.sessions.lock()
	reg := ss.reg
	if reg == nil || !reg.confirmed || reg.completed {
		unlock()
		return nil, newAPIError(http.StatusConflict, "REGISTRATION_INCOMPLETE", "enter the registration code and your contact details first")
	}
	app := Application{
		GivenName: req.GivenName, Surname: req.Surname, NationalNumber: req.NationalNumber,
		DocumentNumber: req.DocumentNumber, Country: req.Country, Email: reg.email, Phone: reg.phone,
	}
	unlock()
	app, fieldErrs := normalise(app)
	if len(fieldErrs) > 0 {
		return nil, newAPIError(http.StatusUnprocessableEntity, "INVALID_FIELDS", strings.Join(fieldErrs, "; "))
	}
	// The page fills the identity from the card, but the server trusts only
	// the certificate: the application must be for the logged-in person.
	unlock = p.sessions.lock()
	person, authCert := *ss.person, ss.authCert
	unlock()
	if app.NationalNumber != person.NationalNumber {
		return nil, newAPIError(http.StatusForbidden, "WRONG_PERSON", "the national register number is not the one of the logged-in person")
	}
	id := randomID()[:16]
	doc, err := canonicalDocument(id, app, p.now().UTC().Format("2006-01-02T15:04:05Z"))
	if err != nil {
		return nil, err
	}
	// Match the hash to the card's key: SHA-384 for the P-384 keys of
	// applet 1.8 cards, SHA-256 for RSA cards (what applet 1.7 signs natively).
	hash, hashName := crypto.SHA256, "SHA-256"
	if _, ok := authCert.PublicKey.(*ecdsa.PublicKey); ok {
		hash, hashName = crypto.SHA384, "SHA-384"
	}
	h := hash.New()
	h.Write(doc)
	digest := h.Sum(nil)

	unlock = p.sessions.lock()
	if len(ss.apps) >= 20 {
		unlock()
		return nil, newAPIError(http.StatusTooManyRequests, "TOO_MANY_APPLICATIONS", "too many applications in this session")
	}
	ss.apps[id] = &pendingApp{app: app, document: doc, hash: hash, digest: digest}
	unlock()
	return map[string]string{
		"id":            id,
		"hashAlgorithm": hashName,
		"digest":        base64.StdEncoding.EncodeToString(digest),
		"document":      string(doc),
		"documentName":  DocumentName,
	}, nil
}

// canonicalDocument is the exact byte string that is signed: the fields as
// a JSON object with sorted keys and no insignificant whitespace, so the
// portal can recompute it from the stored application at any time.
func canonicalDocument(id string, app Application, created string) ([]byte, error) {
	m := map[string]string{
		"type":           DocumentName,
		"applicationId":  id,
		"createdAt":      created,
		"givenName":      app.GivenName,
		"surname":        app.Surname,
		"nationalNumber": app.NationalNumber,
		"documentNumber": app.DocumentNumber,
		"country":        app.Country,
		"email":          app.Email,
		"phone":          app.Phone,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // encoding/json sorts map keys
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// signatureRequest is the body of POST /api/application/{id}/signature:
// the daemon's sign result.
type signatureRequest struct {
	Signature          string `json:"signature"`
	Certificate        string `json:"certificate"`
	SignatureAlgorithm *struct {
		CryptoAlgorithm string `json:"cryptoAlgorithm"`
		HashFunction    string `json:"hashFunction"`
		PaddingScheme   string `json:"paddingScheme"`
	} `json:"signatureAlgorithm,omitempty"`
}

// POST /api/application/{id}/signature
func (p *Portal) handleSignature(w http.ResponseWriter, r *http.Request) (any, error) {
	ss, err := p.loggedIn(r)
	if err != nil {
		return nil, err
	}
	var req signatureRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	unlock := p.sessions.lock()
	pa := ss.apps[id]
	person := *ss.person
	unlock()
	if pa == nil {
		return nil, newAPIError(http.StatusNotFound, "NOT_FOUND", "no such application in this session")
	}
	if pa.done {
		return nil, newAPIError(http.StatusConflict, "ALREADY_SUBMITTED", "this application was already submitted")
	}
	certDER, err1 := base64.StdEncoding.DecodeString(req.Certificate)
	sig, err2 := base64.StdEncoding.DecodeString(req.Signature)
	if err1 != nil || err2 != nil || len(certDER) == 0 || len(sig) == 0 {
		return nil, errBadRequest("BAD_BASE64", "signature and certificate must be standard base64")
	}
	if a := req.SignatureAlgorithm; a != nil && a.HashFunction != "" && a.HashFunction != hashName(pa.hash) {
		return nil, errBadRequest("WRONG_HASH", fmt.Sprintf("the application was issued for %s, the card signed %s", hashName(pa.hash), a.HashFunction))
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, errBadRequest("BAD_CERTIFICATE", "the signing certificate cannot be parsed")
	}
	// Chain and policy, the signature, then the revocation status: no
	// OCSP request for a signature that fails anyway.
	if err := p.v.VerifyDocumentSignature(r.Context(), cert, pa.hash, pa.digest, sig); err != nil {
		p.log.Info("signature refused", "err", err)
		switch {
		case errors.Is(err, webeid.ErrRevoked):
			return nil, newAPIError(http.StatusUnauthorized, "CERTIFICATE_REVOKED", "the signing certificate is revoked")
		case errors.Is(err, webeid.ErrRevocationUnavailable):
			return nil, revocationUnavailable()
		case errors.Is(err, webeid.ErrCertificate):
			return nil, newAPIError(http.StatusUnauthorized, "CERTIFICATE_REJECTED", "the signing certificate is not accepted by this portal")
		}
		return nil, newAPIError(http.StatusUnauthorized, "SIGNATURE_INVALID", "the signature does not match the application")
	}
	if _, _, nn := webeid.SubjectIdentity(cert); nn == "" || nn != person.NationalNumber {
		return nil, newAPIError(http.StatusForbidden, "WRONG_PERSON", "the application was signed by someone other than the logged-in person")
	}

	unlock = p.sessions.lock()
	if pa.done { // lost a race with a concurrent submission
		unlock()
		return nil, newAPIError(http.StatusConflict, "ALREADY_SUBMITTED", "this application was already submitted")
	}
	pa.done = true
	var activeUntil time.Time
	if ss.reg != nil {
		activeUntil = ss.reg.complete(p.now())
	}
	unlock()
	sub := Submission{
		ID: id, Reference: newReference(), Application: pa.app, Document: pa.document,
		Hash: pa.hash, Digest: pa.digest, Signature: sig, Certificate: cert, At: p.now(),
	}
	p.mu.Lock()
	p.submissions = append(p.submissions, sub)
	p.mu.Unlock()
	p.log.Info("application submitted", "reference", sub.Reference, "nn", maskNN(person.NationalNumber))
	return map[string]string{
		"status":      "submitted",
		"reference":   sub.Reference,
		"submittedAt": sub.At.UTC().Format("2006-01-02T15:04:05Z"),
		"activeUntil": activeUntil.UTC().Format("2006-01-02T15:04:05Z"),
	}, nil
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	}
	return h.String()
}

// maskNN keeps a national number out of logs: birth date part only.
func maskNN(nn string) string {
	if len(nn) < 6 {
		return "***"
	}
	return nn[:6] + "*****"
}

var (
	rePhone    = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	reDocument = regexp.MustCompile(`^[A-Z0-9]{9,12}$`)
	reCountry  = regexp.MustCompile(`^[A-Z]{2}$`)
	reDigits11 = regexp.MustCompile(`^[0-9]{11}$`)
)

// normalise trims and checks every field, returning the cleaned form and
// one message per bad field. The page runs the same checks first; these
// are the ones that count.
func normalise(a Application) (Application, []string) {
	var errs []string
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	a.GivenName, a.Surname = clean(a.GivenName), clean(a.Surname)
	for _, f := range []struct{ name, v string }{{"given name", a.GivenName}, {"surname", a.Surname}} {
		if f.v == "" || utf8.RuneCountInString(f.v) > 100 {
			errs = append(errs, f.name+" must be 1 to 100 characters")
		}
	}
	a.NationalNumber = stripSeparators(a.NationalNumber)
	if !validNationalNumber(a.NationalNumber) {
		errs = append(errs, "national register number is not valid")
	}
	a.DocumentNumber = strings.ToUpper(stripSeparators(a.DocumentNumber))
	if !reDocument.MatchString(a.DocumentNumber) {
		errs = append(errs, "document number must be 9 to 12 letters or digits")
	}
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	if !reCountry.MatchString(a.Country) {
		errs = append(errs, "country must be a two-letter ISO 3166 code")
	}
	a.Email = strings.TrimSpace(a.Email)
	if !validEmail(a.Email) {
		errs = append(errs, "e-mail address is not valid")
	}
	a.Phone = normalisePhone(a.Phone)
	if a.Phone != "" && !rePhone.MatchString(a.Phone) { // optional, as in the guide
		errs = append(errs, "phone number must be in international form, e.g. +32 470 12 34 56")
	}
	return a, errs
}

func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '/', '(', ')':
			return -1
		}
		return r
	}, s)
}

// normalisePhone removes separators and turns a Belgian national number
// (0470 12 34 56) or a 00 prefix into E.164.
func normalisePhone(s string) string {
	s = stripSeparators(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "00"):
		s = "+" + s[2:]
	case strings.HasPrefix(s, "0") && len(s) >= 9:
		s = "+32" + s[1:]
	}
	return s
}

func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.HasPrefix(domain, ".")
}

// validNationalNumber checks the Belgian national register number: 11
// digits whose last two are 97 minus the first nine mod 97; people born
// in 2000 or later get a "2" prefixed before the modulo.
func validNationalNumber(nn string) bool {
	if !reDigits11.MatchString(nn) {
		return false
	}
	// ParseInt, not fmt.Sscan: a leading 0 (born in 200x) must not mean octal.
	base, _ := strconv.ParseInt(nn[:9], 10, 64)
	check, _ := strconv.ParseInt(nn[9:], 10, 64)
	return 97-base%97 == check || 97-(2_000_000_000+base)%97 == check
}
