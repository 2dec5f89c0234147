package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// Steps 3 and 4 of the citizen's guide: the Smart-ID app shows a
// registration code of five characters, valid for 15 minutes and renewed
// automatically; the portal asks for it with the contact details, and goes
// on only when it matches.
//
// In the real service the app and the portal reach the same registration
// on the provider's servers. Here the phone app is a stand-in page of the
// portal (/phone), open in another tab of the same browser, so the code is
// kept in that browser's session: a code typed in one session is never
// compared with the code of another, which is what makes five characters
// enough. A session also gets a bounded number of wrong tries.

const (
	// CodeLength is the number of characters of a registration code.
	CodeLength = 5
	// DefaultCodeTTL is how long a registration code is valid, as in the guide.
	DefaultCodeTTL = 15 * time.Minute
	// maxTriesPerCode wrong tries burn a code; the app then shows a new one.
	maxTriesPerCode = 5
	// maxTriesPerSession wrong tries end the registration in this session.
	maxTriesPerSession = 20
	// accountValidity is how long the new account stays active.
	accountValidity = 3 // years
)

// codeAlphabet has 32 characters, so a random byte masked to 5 bits picks
// one without bias; 0/O and 1/I are left out, being easy to misread.
const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// registration is the phone app's side of one session's registration.
type registration struct {
	code     string
	expires  time.Time
	tries    int    // wrong tries against code
	previous string // the code this one replaced, to tell "expired" from "wrong"
	total    int    // wrong tries in this session

	confirmed bool // the right code was entered at the portal
	email     string
	phone     string

	completed   bool // the application was signed and accepted
	activeUntil time.Time
}

func newCode() string {
	b := make([]byte, CodeLength)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	for i := range b {
		b[i] = codeAlphabet[b[i]&31]
	}
	return string(b)
}

// renew gives reg a fresh code, valid for ttl, when it has none, or when
// its code expired or was burned by wrong tries. A confirmed, completed or
// locked registration gets no new code.
func (reg *registration) renew(now time.Time, ttl time.Duration) {
	if reg.confirmed || reg.completed || reg.total >= maxTriesPerSession {
		return
	}
	if reg.code != "" && now.Before(reg.expires) && reg.tries < maxTriesPerCode {
		return
	}
	reg.previous = reg.code
	reg.code = newCode()
	reg.expires = now.Add(ttl)
	reg.tries = 0
}

// normaliseCode lets the citizen type the code in lower case or with
// spaces.
func normaliseCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// wellFormedCode reports whether s could be a code at all; a malformed
// entry is a field error, not a wrong try.
func wellFormedCode(s string) bool {
	if len(s) != CodeLength {
		return false
	}
	for i := range len(s) {
		if strings.IndexByte(codeAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// check compares an entered code with the session's, in constant time,
// and counts wrong tries. It returns nil when the code is right.
func (reg *registration) check(entered string, now time.Time) *apiError {
	if reg.total >= maxTriesPerSession {
		return newAPIError(http.StatusTooManyRequests, "CODE_LOCKED", "too many wrong registration codes; start the registration again in the app")
	}
	if reg.code == "" {
		return newAPIError(http.StatusConflict, "NO_CODE", "no registration code was issued to this browser; open the app first")
	}
	right := subtle.ConstantTimeCompare([]byte(entered), []byte(reg.code)) == 1
	old := reg.previous != "" && subtle.ConstantTimeCompare([]byte(entered), []byte(reg.previous)) == 1
	switch {
	case right && now.Before(reg.expires) && reg.tries < maxTriesPerCode:
		return nil
	case right, old:
		// An expired code is not a guess: it does not count as a wrong try.
		return newAPIError(http.StatusConflict, "CODE_EXPIRED", "the registration code expired; enter the new code the app shows")
	}
	reg.tries++
	reg.total++
	if reg.total >= maxTriesPerSession {
		reg.code = ""
		return newAPIError(http.StatusTooManyRequests, "CODE_LOCKED", "too many wrong registration codes; start the registration again in the app")
	}
	if reg.tries >= maxTriesPerCode {
		return newAPIError(http.StatusTooManyRequests, "CODE_TOO_MANY_TRIES", "too many wrong tries for this code; enter the new code the app shows")
	}
	return newAPIError(http.StatusUnprocessableEntity, "CODE_WRONG", "the registration code does not match the one the app shows")
}

// phoneState is what the stand-in app shows.
type phoneState struct {
	// Status is "code" (show the code), "confirmed" (the portal took the
	// code; the citizen signs there), "complete" or "locked".
	Status      string `json:"status"`
	Code        string `json:"code,omitempty"`
	ExpiresAt   string `json:"expiresAt,omitempty"`
	ValidFor    int    `json:"validForSeconds,omitempty"`
	ActiveUntil string `json:"activeUntil,omitempty"`
}

func (reg *registration) state(now time.Time) phoneState {
	switch {
	case reg.completed:
		return phoneState{Status: "complete", ActiveUntil: reg.activeUntil.UTC().Format(time.RFC3339)}
	case reg.confirmed:
		return phoneState{Status: "confirmed"}
	case reg.code == "":
		return phoneState{Status: "locked"}
	}
	return phoneState{
		Status:    "code",
		Code:      reg.code,
		ExpiresAt: reg.expires.UTC().Format(time.RFC3339),
		ValidFor:  int(reg.expires.Sub(now).Round(time.Second) / time.Second),
	}
}

// POST /api/phone: the stand-in app's poll. It starts a session when the
// browser has none (the app is usually opened first), issues or renews
// the code, and reports how far the registration got.
func (p *Portal) handlePhone(w http.ResponseWriter, r *http.Request) (any, error) {
	ss, err := p.sessionOrNew(w, r)
	if err != nil {
		return nil, err
	}
	now := p.now()
	unlock := p.sessions.lock()
	defer unlock()
	if ss.reg == nil {
		ss.reg = &registration{}
	}
	ss.reg.renew(now, p.codeTTL)
	return ss.reg.state(now), nil
}

// registrationRequest is the body of POST /api/registration (step 4).
type registrationRequest struct {
	Code  string `json:"code"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// POST /api/registration: the registration code and contact details.
// Field errors come first and cost no try; then the code is checked.
func (p *Portal) handleRegistration(w http.ResponseWriter, r *http.Request) (any, error) {
	ss, err := p.loggedIn(r)
	if err != nil {
		return nil, err
	}
	var req registrationRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	code := normaliseCode(req.Code)
	email := strings.TrimSpace(req.Email)
	phone := normalisePhone(req.Phone)
	fields := map[string]string{}
	switch {
	case code == "":
		fields["code"] = "required"
	case !wellFormedCode(code):
		fields["code"] = "invalid"
	}
	switch {
	case email == "":
		fields["email"] = "required"
	case !validEmail(email):
		fields["email"] = "invalid"
	}
	if phone != "" && !rePhone.MatchString(phone) {
		fields["phone"] = "invalid"
	}
	if len(fields) > 0 {
		return nil, &apiError{status: http.StatusUnprocessableEntity, Code: "INVALID_FIELDS", Message: "some fields are missing or not valid", Fields: fields}
	}

	now := p.now()
	unlock := p.sessions.lock()
	defer unlock()
	if ss.reg == nil {
		ss.reg = &registration{}
	}
	reg := ss.reg
	if reg.completed {
		return nil, newAPIError(http.StatusConflict, "ALREADY_REGISTERED", "this registration is already complete")
	}
	if !reg.confirmed {
		if ae := reg.check(code, now); ae != nil {
			p.log.Info("registration code refused", "code", ae.Code)
			return nil, ae
		}
		reg.confirmed = true
		reg.code, reg.previous = "", ""
	}
	reg.email, reg.phone = email, phone
	return map[string]string{"email": email, "phone": phone}, nil
}

// complete marks the session's registration done after a verified
// signature and returns until when the account is active.
func (reg *registration) complete(now time.Time) time.Time {
	reg.completed = true
	reg.activeUntil = now.AddDate(accountValidity, 0, 0)
	return reg.activeUntil
}
