package portal

import (
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
)

// phoneCode polls the stand-in app and returns the code it shows.
func (h *harness) phoneCode() map[string]any {
	h.t.Helper()
	st, m := h.post("/api/phone", "{}")
	if st != 200 {
		h.t.Fatalf("phone: %d %v", st, m)
	}
	return m
}

func (h *harness) enter(code string) (int, map[string]any) {
	h.t.Helper()
	return h.post("/api/registration", map[string]string{"code": code, "email": "lotte@example.org"})
}

// otherCode returns a well-formed code that differs from code.
func otherCode(code string) string {
	if code[0] == '2' {
		return "3" + code[1:]
	}
	return "2" + code[1:]
}

func TestRegistrationCode(t *testing.T) {
	testPKIs(t)
	card := cards[sim.ProfileECC]
	codeRE := regexp.MustCompile(`^[2-9A-HJ-NP-Z]{5}$`)

	t.Run("shown, valid 15 minutes, renewed at expiry", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		m := h.phoneCode()
		code := m["code"].(string)
		if m["status"] != "code" || !codeRE.MatchString(code) || m["validForSeconds"] != float64(900) {
			t.Fatalf("phone shows %v", m)
		}
		h.clock.Advance(14 * time.Minute)
		if m := h.phoneCode(); m["code"] != code || m["validForSeconds"] != float64(60) {
			t.Fatalf("before expiry: %v, want the same code with 60 s left", m)
		}
		h.clock.Advance(time.Minute)
		m = h.phoneCode()
		if m["code"] == code || !codeRE.MatchString(m["code"].(string)) || m["validForSeconds"] != float64(900) {
			t.Fatalf("after expiry: %v, want a new code", m)
		}
	})

	t.Run("wrong code refused, right code accepted", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		code := h.phoneCode()["code"].(string)
		h.login(card)
		if st, m := h.enter(otherCode(code)); st != 422 || errCode(m) != "CODE_WRONG" {
			t.Fatalf("wrong code: %d %v", st, m)
		}
		// Lower case with a space is the same code.
		lower := strings.ToLower(code[:2]) + " " + strings.ToLower(code[2:])
		if st, m := h.enter(lower); st != 200 || m["email"] != "lotte@example.org" {
			t.Fatalf("right code: %d %v", st, m)
		}
		if m := h.phoneCode(); m["status"] != "confirmed" || m["code"] != nil {
			t.Errorf("phone after the code was taken: %v", m)
		}
	})

	t.Run("expired code refused as expired", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		code := h.phoneCode()["code"].(string)
		h.login(card)
		h.clock.Advance(DefaultCodeTTL)
		if st, m := h.enter(code); st != 409 || errCode(m) != "CODE_EXPIRED" {
			t.Fatalf("expired code before renewal: %d %v", st, m)
		}
		fresh := h.phoneCode()["code"].(string)
		if st, m := h.enter(code); st != 409 || errCode(m) != "CODE_EXPIRED" {
			t.Fatalf("replaced code: %d %v", st, m)
		}
		if st, m := h.enter(fresh); st != 200 {
			t.Fatalf("new code: %d %v", st, m)
		}
	})

	t.Run("bounded tries", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		code := h.phoneCode()["code"].(string)
		h.login(card)
		for i := 1; i < maxTriesPerCode; i++ {
			if st, m := h.enter(otherCode(code)); st != 422 || errCode(m) != "CODE_WRONG" {
				t.Fatalf("wrong try %d: %d %v", i, st, m)
			}
		}
		if st, m := h.enter(otherCode(code)); st != 429 || errCode(m) != "CODE_TOO_MANY_TRIES" {
			t.Fatalf("last wrong try: %d %v", st, m)
		}
		// The burned code no longer works, even though it was right.
		if st, m := h.enter(code); st == 200 {
			t.Fatalf("burned code accepted: %v", m)
		}
		// The app shows a new one; the session's total runs out too.
		for tries := maxTriesPerCode; tries < maxTriesPerSession; {
			c := h.phoneCode()["code"].(string)
			for range maxTriesPerCode {
				h.enter(otherCode(c))
				tries++
			}
		}
		if m := h.phoneCode(); m["status"] != "locked" || m["code"] != nil {
			t.Fatalf("phone after %d wrong tries: %v", maxTriesPerSession, m)
		}
		if st, m := h.enter(code); st != 429 || errCode(m) != "CODE_LOCKED" {
			t.Fatalf("locked session: %d %v", st, m)
		}
	})

	t.Run("fields", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		code := h.phoneCode()["code"].(string)
		h.login(card)
		cases := []struct {
			body   map[string]string
			fields map[string]any
		}{
			{map[string]string{"code": "", "email": ""}, map[string]any{"code": "required", "email": "required"}},
			{map[string]string{"code": "ABC", "email": "lotte@"}, map[string]any{"code": "invalid", "email": "invalid"}},
			{map[string]string{"code": "O0I1L", "email": "Lotte <lotte@example.org>"}, map[string]any{"code": "invalid", "email": "invalid"}},
			{map[string]string{"code": code, "email": "lotte@example.org", "phone": "12"}, map[string]any{"phone": "invalid"}},
		}
		for _, tc := range cases {
			st, m := h.post("/api/registration", tc.body)
			fields, _ := m["error"].(map[string]any)["fields"].(map[string]any)
			if st != 422 || errCode(m) != "INVALID_FIELDS" || len(fields) != len(tc.fields) {
				t.Errorf("%v: %d %v, want fields %v", tc.body, st, m, tc.fields)
				continue
			}
			for k, v := range tc.fields {
				if fields[k] != v {
					t.Errorf("%v: field %s is %v, want %v", tc.body, k, fields[k], v)
				}
			}
		}
		// Field errors cost no try: the right code still works, and the
		// phone number is optional.
		if st, m := h.post("/api/registration", map[string]string{"code": code, "email": "lotte@example.org", "phone": ""}); st != 200 || m["phone"] != "" {
			t.Fatalf("right code after field errors: %d %v", st, m)
		}
	})

	t.Run("another person logs in over a confirmed code", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		h.login(card)
		h.register()
		h.login(other)
		if st, m := h.post("/api/application", validApplication(other)); st != 409 || errCode(m) != "REGISTRATION_INCOMPLETE" {
			t.Fatalf("application by the second person: %d %v", st, m)
		}
		if m := h.phoneCode(); m["status"] != "code" {
			t.Fatalf("phone after the second login: %v", m)
		}
	})

	t.Run("not logged in", func(t *testing.T) {
		h := newHarness(t, sim.ProfileECC)
		code := h.phoneCode()["code"].(string)
		if st, m := h.enter(code); st != 401 || errCode(m) != "NOT_LOGGED_IN" {
			t.Fatalf("got %d %v", st, m)
		}
	})

	t.Run("code of another session", func(t *testing.T) {
		phone := newHarness(t, sim.ProfileECC)
		code := phone.phoneCode()["code"].(string)
		// Another browser on the same portal: its session has no code.
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Transport: phone.srv.Client().Transport, Jar: jar}
		h := &harness{t: t, portal: phone.portal, srv: phone.srv, client: client, clock: phone.clock}
		h.login(card)
		if st, m := h.enter(code); st != 409 || errCode(m) != "NO_CODE" {
			t.Fatalf("got %d %v", st, m)
		}
	})
}

func TestNegotiateLanguage(t *testing.T) {
	cases := map[string]string{
		"":                          "en",
		"nl-BE,nl;q=0.9,en;q=0.8":   "nl",
		"fr-BE":                     "fr",
		"de-DE,de;q=0.9":            "de",
		"en-GB,en;q=0.9":            "en",
		"es-ES,fr;q=0.4,nl;q=0.6":   "nl",
		"es":                        "en",
		"nl;q=0, de":                "de",
		"fr;q=abc, de;q=0.1":        "de",
		"NL-be":                     "nl",
		"*":                         "en",
		"en;q=0.5, fr;q=0.5":        "en",
		"x-nl, nl-BE ; q = 0.3":     "nl",
		"de;q=1.5, fr;q=0.2":        "fr",
		"dutch, nl-NL;q=0.7, en;q=": "nl",
	}
	for header, want := range cases {
		if got := negotiateLanguage(header); got != want {
			t.Errorf("negotiateLanguage(%q) = %q, want %q", header, got, want)
		}
	}
}
