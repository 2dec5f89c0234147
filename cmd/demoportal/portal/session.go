package portal

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"net"
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
	client  string // who started it (the peer's IP address), for the per-client cap
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
//
// Sessions are handed to anyone who asks (a nonce or a phone code starts
// one), so the table must not be a pool strangers can flush: a client
// holds at most perClient sessions that are not logged in, and starting
// another drops that client's oldest; when the table is full, new sessions
// are refused until some expire, and no live session, anybody's, is
// evicted to make room.
type sessionStore struct {
	max       int
	perClient int
	now       func() time.Time
	ttl       time.Duration

	mu        sync.Mutex
	m         map[string]*session
	anon      map[string][]*session // client -> sessions it started that are not logged in, oldest first (pruned lazily)
	lastSweep time.Time
}

// defaultPerClient bounds the sessions one client may have open before
// login: a few tabs and the phone stand-in, not a loop.
const defaultPerClient = 8

func newSessionStore(max int, now func() time.Time, ttl time.Duration) *sessionStore {
	return &sessionStore{max: max, perClient: defaultPerClient, now: now, ttl: ttl, m: make(map[string]*session), anon: make(map[string][]*session)}
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

// create adds a new empty session for client, or returns nil when the
// table is full (see sessionStore).
func (s *sessionStore) create(client string) *session {
	ss := &session{id: randomID(), client: client, apps: map[string]*pendingApp{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	// A full table is swept at most once a second: a flood that keeps
	// it full must not make every request scan it.
	if (len(s.m) >= s.max || len(s.anon) > s.max) && now.Sub(s.lastSweep) >= time.Second {
		s.sweepLocked(now)
		s.lastSweep = now
	}
	mine := s.pendingLocked(client)
	if len(mine) >= s.perClient {
		delete(s.m, mine[0].id)
		mine = mine[1:]
	}
	if len(s.m) >= s.max {
		if len(mine) == 0 {
			delete(s.anon, client)
		} else {
			s.anon[client] = mine
		}
		return nil
	}
	ss.expires = now.Add(s.ttl)
	s.m[ss.id] = ss
	s.anon[client] = append(mine, ss)
	return ss
}

// pendingLocked returns client's sessions still in the table and not
// logged in.
func (s *sessionStore) pendingLocked(client string) []*session {
	list := s.anon[client]
	kept := list[:0]
	for _, x := range list {
		if s.m[x.id] == x && x.person == nil {
			kept = append(kept, x)
		}
	}
	clear(list[len(kept):])
	return kept
}

// sweepLocked drops expired sessions and empty client lists.
func (s *sessionStore) sweepLocked(now time.Time) {
	for id, x := range s.m {
		if !now.Before(x.expires) {
			delete(s.m, id)
		}
	}
	for c := range s.anon {
		if list := s.pendingLocked(c); len(list) > 0 {
			s.anon[c] = list
		} else {
			delete(s.anon, c)
		}
	}
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

// sessionOrNew returns the request's session, or starts one (and sets its
// cookie); it answers BUSY when the table is full.
func (p *Portal) sessionOrNew(w http.ResponseWriter, r *http.Request) (*session, error) {
	if ss := p.session(r); ss != nil {
		return ss, nil
	}
	ss := p.sessions.create(clientOf(r))
	if ss == nil {
		return nil, newAPIError(http.StatusServiceUnavailable, "BUSY", "too many visitors right now; please try again in a minute")
	}
	p.setSessionCookie(w, ss)
	return ss, nil
}

// clientOf is who sent r, for the per-client session cap: the peer's IP
// address. Behind a reverse proxy that would be the proxy's; such a
// deployment keys on the address the proxy forwards instead.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// session returns the request's session, or nil.
func (p *Portal) session(r *http.Request) *session {
	c, err := r.Cookie(p.cookieName())
	if err != nil {
		return nil
	}
	return p.sessions.get(c.Value)
}
