package portal

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// session is one browser's state. Before login it only holds the nonce it
// was given; login replaces it by a fresh session (new id) holding the
// person.
type session struct {
	id      string
	expires time.Time
	nonce   string // challenge nonce issued to this browser, until used

	person   *Person
	authCert *x509.Certificate
	apps     map[string]*pendingApp

	reg *registration // the phone app's registration code and its outcome
}

// pendingApp is an application waiting for its signature.
type pendingApp struct {
	app      Application
	document []byte
	hash     crypto.Hash
	digest   []byte
	done     bool
}

// sessionStore is a bounded in-memory session table.
type sessionStore struct {
	max int
	now func() time.Time
	ttl time.Duration

	mu sync.Mutex
	m  map[string]*session
}

func newSessionStore(max int, now func() time.Time, ttl time.Duration) *sessionStore {
	return &sessionStore{max: max, now: now, ttl: ttl, m: make(map[string]*session)}
}

// get returns the live session with this id and extends it.
func (s *sessionStore) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return nil
	}
	now := s.now()
	if !now.Before(ss.expires) {
		delete(s.m, id)
		return nil
	}
	ss.expires = now.Add(s.ttl)
	return ss
}

// create adds a new empty session. When the table is full, expired
// sessions go first, then the one closest to expiry: the nonce endpoint is
// open to anyone, and refusing new sessions would lock everybody out.
func (s *sessionStore) create() *session {
	ss := &session{id: randomID(), apps: map[string]*pendingApp{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= s.max {
		for id, x := range s.m {
			if !now.Before(x.expires) {
				delete(s.m, id)
			}
		}
	}
	for len(s.m) >= s.max {
		var oldest *session
		for _, x := range s.m {
			if oldest == nil || x.expires.Before(oldest.expires) {
				oldest = x
			}
		}
		delete(s.m, oldest.id)
	}
	ss.expires = now.Add(s.ttl)
	s.m[ss.id] = ss
	return ss
}

// rotate gives ss a new id (after login, against session fixation).
func (s *sessionStore) rotate(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, ss.id)
	ss.id = randomID()
	s.m[ss.id] = ss
}

func (s *sessionStore) delete(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, ss.id)
}

// lock serialises changes to one session's fields; sessions are small and
// few, so one lock for all is enough.
func (s *sessionStore) lock() func() {
	s.mu.Lock()
	return s.mu.Unlock
}

func randomID() string {
	b := make([]byte, 18)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

// newReference makes a human-friendly application reference like
// "SID-7KQ2-M4XD".
func newReference() string {
	b := make([]byte, 5)
	rand.Read(b)
	s := base32.StdEncoding.EncodeToString(b) // 8 chars, no padding for 5 bytes
	return "SID-" + s[:4] + "-" + s[4:]
}

func (p *Portal) cookieName() string {
	if p.insecure {
		return "dp_session"
	}
	// __Host- makes the browser refuse the cookie unless it is Secure,
	// host-only and Path=/, so a sibling subdomain cannot plant one.
	return "__Host-dp_session"
}

func (p *Portal) setSessionCookie(w http.ResponseWriter, ss *session) {
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(),
		Value:    ss.id,
		Path:     "/",
		HttpOnly: true,
		Secure:   !p.insecure,
		SameSite: http.SameSiteStrictMode,
	})
}

func (p *Portal) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   !p.insecure,
		SameSite: http.SameSiteStrictMode,
	})
}

// session returns the request's session, or nil.
func (p *Portal) session(r *http.Request) *session {
	c, err := r.Cookie(p.cookieName())
	if err != nil {
		return nil
	}
	return p.sessions.get(c.Value)
}
