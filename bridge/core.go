package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/config"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or once their context is done, and by Core.Serve once the core shuts
// down.
var ErrServerClosed = http.ErrServerClosed

// Core is protocol v1 without a transport: it admits sessions (the origin
// policy, the user's consent, the connection limits) and serves them
// (methods, the PIN gate, per-reader serialisation, reader events), one
// consent store and one dialog queue for all of them. A transport adapter
// (the WebSocket Server, the native-messaging host) establishes who the
// page is, in a way the browser vouches for, and carries the messages:
//
//	adm, err := core.Admit(ctx, bridge.Session{Origin: origin, Transport: "native"})
//	if err != nil { ... } // a *RefusedError: tell the page, end
//	err = core.Serve(ctx, adm, stream)
//
// Create it with NewCore; it is safe for concurrent use.
type Core struct {
	cfg        Config
	limits     Limits
	log        *slog.Logger
	refusalLog *logSampler     // for what pages can cause without bound
	allowed    map[string]bool // pre-consented origins
	devHTTP    map[string]bool // http:// origins allowed to connect
	prompts    *promptQueue
	consents   ConsentStore
	refusals   RefusalStore // the cooldowns and back-offs after refusals
	hub        *watchHub
	cards      *cardCache // the files of the cards in the readers

	// baseCtx is the parent of every session's context; Shutdown cancels
	// it so that requests, prompts and the watcher stop.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu          sync.Mutex
	closing     bool
	sessions    map[*session]struct{}
	total       int            // sessions open or admitted
	perOrigin   map[string]int // same, per origin
	readerLocks map[string]chan struct{}
	pinLocks    map[string]chan struct{}
	asking      map[string]*consentAsk // open consent dialogs, by origin
	waiting     int                    // admissions waiting for a consent answer
	waitingSite map[string]int         // same, by site
	blocked     map[string]bool        // sites the user blocked
	sessionWG   sync.WaitGroup         // sessions and consent dialogs
	// cardWG counts card work, which may outlive its request while a card
	// is slow to answer (see withCard).
	cardWG sync.WaitGroup
}

// NewCore checks cfg and returns a Core. Only the fields of cfg that are
// not about the WebSocket listener (Addrs, Port) matter to it.
func NewCore(cfg Config) (*Core, error) {
	if cfg.Readers == nil {
		return nil, errors.New("bridge: Config.Readers is nil")
	}
	if cfg.Prompter == nil {
		cfg.Prompter = DenyPrompter{}
	}
	if cfg.Consents == nil {
		cfg.Consents = &MemoryConsentStore{}
	}
	if cfg.Refusals == nil {
		cfg.Refusals = &MemoryRefusalStore{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "0.0.0-dev"
	}
	core := &Core{
		cfg:         cfg,
		limits:      cfg.Limits.withDefaults(),
		log:         cfg.Logger,
		refusalLog:  newLogSampler(cfg.Logger),
		allowed:     make(map[string]bool),
		devHTTP:     make(map[string]bool),
		prompts:     newPromptQueue(cfg.Prompter),
		cards:       newCardCache(),
		consents:    cfg.Consents,
		refusals:    cfg.Refusals,
		sessions:    make(map[*session]struct{}),
		perOrigin:   make(map[string]int),
		readerLocks: make(map[string]chan struct{}),
		pinLocks:    make(map[string]chan struct{}),
		asking:      make(map[string]*consentAsk),
		waitingSite: make(map[string]int),
		blocked:     make(map[string]bool),
	}
	for _, o := range cfg.DevHTTPOrigins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(c, "http://") {
			return nil, fmt.Errorf("bridge: developer origin %q is not an http:// origin", o)
		}
		core.devHTTP[c] = true
	}
	for _, o := range cfg.AllowedOrigins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(c, "http://") && !core.devHTTP[c] {
			return nil, fmt.Errorf("bridge: allowed origin %q is not https (list it as a developer origin too)", o)
		}
		core.allowed[c] = true
	}
	core.baseCtx, core.cancelBase = context.WithCancel(context.Background())
	core.hub = newWatchHub(core)
	return core, nil
}

// Limits returns the limits in force, defaults filled in. Adapters bound
// their frames and writes with them.
func (core *Core) Limits() Limits { return core.limits }

// Logger returns the core's logger, for adapters to log under.
func (core *Core) Logger() *slog.Logger { return core.log }

// Version returns the daemon version the core reports.
func (core *Core) Version() string { return core.cfg.Version }

// Session is what a transport adapter knows about a page that wants a
// session.
type Session struct {
	// Origin is the page's origin as the browser stated it: the Origin
	// header of the WebSocket handshake, or the sender information the
	// browser gave the extension. Never a value the page chose.
	Origin string
	// Transport names the channel in logs ("websocket", "native").
	Transport string
}

// Stream carries one session's messages, each a JSON object in UTF-8.
// The core calls WriteMessage from one goroutine at a time, and Close
// from any goroutine, concurrently with ReadMessage and WriteMessage.
type Stream interface {
	// ReadMessage returns the next message. A message longer than max
	// bytes is not returned: the error wraps ErrMessageTooLarge, and the
	// session ends. An error that is an *Error (a frame that is not a
	// text message, say) is answered to the page and the session goes
	// on. Any other error ends the session.
	ReadMessage(max int64) ([]byte, error)
	// WriteMessage writes one message. An error ends the session.
	WriteMessage(b []byte) error
	// Close ends the stream, telling the peer why where the transport
	// can, and makes a blocked ReadMessage return. It may be called more
	// than once.
	Close(reason CloseReason) error
}

// CloseReason is why the core ends a stream.
type CloseReason int

const (
	// CloseNormal: the page left, a write failed, or the session ended.
	CloseNormal CloseReason = iota
	// CloseTooLarge: the page sent a message over the size limit.
	CloseTooLarge
	// CloseGoingAway: the daemon is shutting down.
	CloseGoingAway
)

// ErrMessageTooLarge is wrapped by a Stream's ReadMessage error when the
// page sent a message over the limit.
var ErrMessageTooLarge = errors.New("bridge: message too large")

// RefusedError is why Admit gave a page no session.
type RefusedError struct {
	// Code is CodeOriginNotAllowed (the origin policy),
	// CodeConsentDenied (the user said no, or the page left first),
	// CodeRateLimited (too many sites wait for the user's answer) or
	// CodeBusy (connection limits, shutting down).
	Code Code
	// Reason is a short English text for the page and the log.
	Reason string
	// Retry: a limit; the page may try again shortly.
	Retry bool
}

func (e *RefusedError) Error() string { return "bridge: refused: " + e.Reason }

// Is makes errors.Is(err, &RefusedError{Code: c}) match by code.
func (e *RefusedError) Is(target error) bool {
	t, ok := target.(*RefusedError)
	return ok && t.Code == e.Code
}

// Reasons for refusing a session after the origin checks.
var (
	refuseDenied  = &RefusedError{Code: CodeConsentDenied, Reason: "consent denied"}
	refuseClosing = &RefusedError{Code: CodeBusy, Reason: "server shutting down", Retry: true}
	refuseBusy    = &RefusedError{Code: CodeRateLimited, Reason: "too many sites waiting for consent", Retry: true}
	// refuseGone answers a page that left while it waited: only the log
	// sees it.
	refuseGone = &RefusedError{Code: CodeConsentDenied, Reason: "page left before consent"}
)

func refuseOrigin(reason string) *RefusedError {
	return &RefusedError{Code: CodeOriginNotAllowed, Reason: reason}
}

// consentGrant is why a session may use the card.
type consentGrant int

const (
	// grantStanding: the origin is on the allow-list or in the consent
	// store. It lasts as long as the origin stays there, so revoking the
	// origin (in the tray) also ends the sessions already open.
	grantStanding consentGrant = iota + 1
	// grantOnce: the user allowed the origin for this session only.
	grantOnce
)

// Admission is a session slot granted by Admit: the origin, the user's
// consent and a place within the limits. Pass it to Serve, or Release it
// when the session cannot start after all.
type Admission struct {
	core  *Core
	sess  Session
	grant consentGrant
	// readers is what the readers held right after an allow-once
	// consent: the card the user allowed (see session.holdOnce).
	readers   []ReaderInfo
	readerErr error
	mu        sync.Mutex
	released  bool
}

// Origin returns the canonical origin admitted.
func (a *Admission) Origin() string { return a.sess.Origin }

// Release gives the slot back. It is safe to call more than once, and
// after Serve.
func (a *Admission) Release() {
	a.mu.Lock()
	done := a.released
	a.released = true
	a.mu.Unlock()
	if !done {
		a.core.unreserve(a.sess.Origin)
	}
}

// CheckOrigin applies the origin policy to an origin the browser stated
// and returns it in canonical form: https origins, plain http only for
// listed developer origins, and with OnlyAllowedOrigins only the allowed
// ones. The error is a *RefusedError with CodeOriginNotAllowed.
func (core *Core) CheckOrigin(origin string) (string, error) {
	if origin == "null" {
		return "", refuseOrigin("opaque origin")
	}
	o, err := CanonicalOrigin(origin)
	if err != nil {
		return "", refuseOrigin("invalid Origin")
	}
	// What the settings could not store, no browser sends: non-ASCII or
	// escaped host names, labels over 63 characters, empty labels.
	if _, err := config.NormalizeOrigin(o, true); err != nil {
		return "", refuseOrigin("invalid Origin")
	}
	if strings.HasPrefix(o, "http://") {
		if !core.devHTTP[o] {
			return "", refuseOrigin("origin not allowed: pages must be served over https")
		}
		return o, nil
	}
	if core.cfg.OnlyAllowedOrigins && !core.preConsented(o) {
		// Managed installs: unknown origins are not even asked about.
		return "", refuseOrigin("origin not allowed")
	}
	return o, nil
}

// Admit decides whether a page from s.Origin gets a session, asking the
// user when nobody has yet, and reserves the slot the session will use.
// The error is a *RefusedError. ctx is the page's: when the page goes
// away, the dialog it was waiting for closes.
func (core *Core) Admit(ctx context.Context, s Session) (*Admission, error) {
	origin, err := core.CheckOrigin(s.Origin)
	if err != nil {
		return nil, err
	}
	s.Origin = origin
	grant, ref := core.admit(ctx, origin)
	if ref != nil {
		return nil, ref
	}
	adm := &Admission{core: core, sess: s, grant: grant}
	if grant == grantOnce {
		// Taken now, not when the session starts: a card pulled in
		// between must end the session, not leave it bound to the next.
		adm.readers, adm.readerErr = core.cfg.Readers.List(ctx)
	}
	return adm, nil
}

func (core *Core) admit(ctx context.Context, origin string) (consentGrant, *RefusedError) {
	if core.siteBlocked(origin) {
		return 0, refuseOrigin("site blocked by the user")
	}
	if core.preConsented(origin) {
		if reason := core.reserve(origin); reason != "" {
			return 0, &RefusedError{Code: CodeBusy, Reason: reason, Retry: true}
		}
		return grantStanding, nil
	}
	if core.recentlyDenied(origin) {
		// Refused moments ago: a page must not be able to bring the
		// dialog back by reconnecting until the user gives in.
		return 0, refuseDenied
	}
	// The slot is taken before the dialog, so that the session limits
	// also bound how many pages can wait for one.
	if reason := core.reserve(origin); reason != "" {
		return 0, &RefusedError{Code: CodeBusy, Reason: reason, Retry: true}
	}
	d, err := core.askConsent(ctx, origin)
	switch {
	case err == nil && d == AllowOnce:
		return grantOnce, nil
	case err == nil && d == AllowAlways:
		return grantStanding, nil
	}
	core.unreserve(origin)
	switch {
	case errors.Is(err, errConsentBusy):
		return 0, refuseBusy
	case errors.Is(err, errSiteBlocked):
		return 0, refuseOrigin("site blocked by the user")
	case errors.Is(err, ErrServerClosed), err != nil && core.shuttingDown():
		// Shutdown closed the dialog: the user said nothing.
		return 0, refuseClosing
	}
	if ctx.Err() != nil {
		return 0, refuseGone
	}
	// Denied, dismissed or timed out.
	return 0, refuseDenied
}

// Serve runs an admitted session over stream until the page leaves, ctx
// is done or the core shuts down, and releases the admission. It sends
// the hello event first. It returns ErrServerClosed when the core was
// shutting down before the session could start, else nil.
func (core *Core) Serve(ctx context.Context, adm *Admission, stream Stream) error {
	defer adm.Release()
	c := newSession(core, stream, adm.sess, adm.grant)
	c.onceReaders, c.onceErr = adm.readers, adm.readerErr
	if adm.grant == grantOnce && adm.readerErr == nil {
		c.bindOnce(adm.readers) // before any request
	}
	core.mu.Lock()
	if core.closing {
		core.mu.Unlock()
		stream.Close(CloseGoingAway)
		return ErrServerClosed
	}
	core.sessions[c] = struct{}{}
	core.sessionWG.Add(1)
	core.mu.Unlock()
	defer core.sessionWG.Done()
	stop := context.AfterFunc(ctx, func() {
		c.cancel()
		stream.Close(CloseNormal)
	})
	defer stop()
	c.serve()
	core.mu.Lock()
	delete(core.sessions, c)
	core.mu.Unlock()
	return nil
}

// beginShutdown refuses new sessions and closes the consent dialogs,
// whose pages are still waiting in Admit.
func (core *Core) beginShutdown() {
	core.mu.Lock()
	defer core.mu.Unlock()
	core.closing = true
	for _, a := range core.asking {
		a.cancel()
	}
}

// Shutdown refuses new sessions, ends every open one (CloseGoingAway),
// cancels running requests and dialogs, and waits for the sessions, and
// for card work still waiting for a card's answer, to end or ctx to be
// done.
func (core *Core) Shutdown(ctx context.Context) error {
	core.beginShutdown()
	core.mu.Lock()
	sessions := make([]*session, 0, len(core.sessions))
	for c := range core.sessions {
		sessions = append(sessions, c)
	}
	core.mu.Unlock()
	for _, c := range sessions {
		c.stream.Close(CloseGoingAway)
	}
	core.cancelBase()
	done := make(chan struct{})
	go func() {
		core.sessionWG.Wait()
		// No request is left to start card work: the card sessions still
		// open are those of requests answered before their card was done.
		core.cardWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// consentAsk is one consent dialog, and the admissions from its origin
// that wait for its answer. Its fields other than done are guarded by
// Core.mu until done is closed, and read-only after.
type consentAsk struct {
	done     chan struct{} // closed once decision and err are set
	decision ConsentDecision
	err      error
	waiters  int                // admissions waiting for the answer
	cancel   context.CancelFunc // closes the dialog
}

// errConsentBusy refuses an admission when too many wait for consent.
var errConsentBusy = errors.New("bridge: too many handshakes waiting for consent")

// errSiteBlocked and errDeniedMeanwhile end a consent dialog whose site
// the user blocked, or denied (see recentlyDenied), while it waited for
// its turn.
var (
	errSiteBlocked     = errors.New("bridge: site blocked by the user")
	errDeniedMeanwhile = errors.New("bridge: site denied while its dialog waited")
)

// askConsent asks the user whether origin may use the card. A page
// from an origin whose dialog is already open waits for that dialog's
// answer instead of opening another, so that a page that opens many
// sessions at once shows the user one dialog, whichever transport they
// come by. The dialog closes when it times out (Limits.PromptTimeout),
// the core shuts down, or every page waiting for it has gone.
func (core *Core) askConsent(ctx context.Context, origin string) (ConsentDecision, error) {
	site := config.Site(origin)
	// Read before taking mu: the store may be a file.
	paused := core.recentlyDenied(origin)
	core.mu.Lock()
	if core.closing {
		core.mu.Unlock()
		return Deny, ErrServerClosed
	}
	a := core.asking[origin]
	if a == nil && paused {
		// Denied between admit's check and now.
		core.mu.Unlock()
		return Deny, nil
	}
	// One site cannot take every waiting place: another site's page
	// still gets its dialog.
	if core.waiting >= core.limits.MaxConsentWaits || core.waitingSite[site] >= core.limits.MaxConsentWaitsPerSite {
		core.mu.Unlock()
		return Deny, errConsentBusy
	}
	shared := a != nil
	if a == nil {
		dctx, cancel := context.WithTimeout(core.baseCtx, core.limits.PromptTimeout)
		a = &consentAsk{done: make(chan struct{}), cancel: cancel}
		core.asking[origin] = a
		core.sessionWG.Add(1) // under mu with closing false: before Shutdown's Wait
		go core.runConsent(dctx, origin, a)
	}
	a.waiters++
	core.waiting++
	core.waitingSite[site]++
	core.mu.Unlock()
	core.log.Debug("handshake waits for consent", "origin", origin, "sharedDialog", shared)

	select {
	case <-a.done:
		core.mu.Lock()
		core.unwaitLocked(site)
		core.mu.Unlock()
		return a.decision, a.err
	case <-ctx.Done():
		core.mu.Lock()
		core.unwaitLocked(site)
		a.waiters--
		last := a.waiters == 0
		if last {
			// Every page that asked has gone: close the dialog. A page
			// that drops its handshake to bring the dialog back counts
			// as a short denial of its site, so the next page from the
			// site asks afresh only after AbandonCooldown.
			a.cancel()
			if core.asking[origin] == a {
				delete(core.asking, origin)
			}
		}
		core.mu.Unlock()
		if last {
			core.refusals.Update(func(r *Refusals) {
				now := time.Now()
				r.prune(now, core.limits)
				r.denySite(site, now.Add(core.limits.AbandonCooldown))
			})
		}
		core.log.Debug("handshake left while waiting for consent", "origin", origin, "dialogClosed", last)
		return Deny, ctx.Err()
	}
}

// runConsent shows the consent dialog of a and records its answer.
func (core *Core) runConsent(ctx context.Context, origin string, a *consentAsk) {
	defer core.sessionWG.Done()
	defer a.cancel()
	// The dialog may have waited behind others, in which the user
	// blocked or denied its site, or denied so many that nobody is
	// asked for now.
	d, err := core.prompts.consent(ctx, ConsentRequest{Origin: origin}, func() error {
		switch {
		case core.siteBlocked(origin):
			return errSiteBlocked
		case core.recentlyDenied(origin):
			return errDeniedMeanwhile
		}
		return nil
	}, func(d ConsentDecision, err error) (ConsentDecision, error) {
		if err == nil && ctx.Err() != nil {
			// An answer that raced the dialog's closing is no answer: the
			// user did not decide anything about a page that had gone.
			err = ctx.Err()
		}
		if err != nil {
			core.log.Info("consent not given", "origin", origin, "err", err)
			return d, err
		}
		if d == AllowAlways {
			if serr := core.consents.Allow(origin); serr != nil {
				// The sessions that asked may go on; a standing grant
				// would fail their first request, as the store lacks it.
				core.log.Error("cannot store consent", "origin", origin, "err", serr)
				d = AllowOnce
			}
		}
		core.log.Info("consent", "origin", origin, "decision", d.String())
		core.noteConsent(origin, d)
		return d, nil
	})
	core.mu.Lock()
	if core.asking[origin] == a {
		delete(core.asking, origin)
	}
	a.decision, a.err = d, err
	core.mu.Unlock()
	close(a.done)
}

// preConsented reports whether origin needs no consent dialog.
func (core *Core) preConsented(origin string) bool {
	return core.allowed[origin] || core.consents.Allowed(origin)
}

// reserve counts a session against the limits before it starts, so that
// a flood of handshakes is refused with a plain refusal instead of
// costing a goroutine pair each.
func (core *Core) reserve(origin string) string {
	core.mu.Lock()
	defer core.mu.Unlock()
	switch {
	case core.closing:
		return "server shutting down"
	case core.total >= core.limits.MaxConns:
		return "too many connections"
	case core.perOrigin[origin] >= core.limits.MaxConnsPerOrigin:
		return "too many connections from this origin"
	}
	core.total++
	core.perOrigin[origin]++
	return ""
}

func (core *Core) unreserve(origin string) {
	core.mu.Lock()
	defer core.mu.Unlock()
	core.total--
	if core.perOrigin[origin]--; core.perOrigin[origin] <= 0 {
		delete(core.perOrigin, origin)
	}
}

// shuttingDown reports whether Shutdown has begun.
func (core *Core) shuttingDown() bool {
	core.mu.Lock()
	defer core.mu.Unlock()
	return core.closing
}

func (core *Core) unwaitLocked(site string) {
	core.waiting--
	if core.waitingSite[site]--; core.waitingSite[site] <= 0 {
		delete(core.waitingSite, site)
	}
}

// recentlyDenied reports whether origin's site was denied within the
// cooldown, or the user denied so many sites lately that nobody is
// asked for now.
func (core *Core) recentlyDenied(origin string) bool {
	r := core.refusals.Load()
	return r.ConsentPaused(config.Site(origin), time.Now())
}

// noteConsent records the user's decision for the cooldowns. The
// cooldown is the site's (config.Site): a1.evil.example and
// a2.evil.example are one owner, who could make any number of origins.
// DenyBurst denials within DenyWindow, whatever the sites, silence every
// consent dialog for GlobalCooldown: a user who keeps saying no is not
// asked by the next site either.
func (core *Core) noteConsent(origin string, d ConsentDecision) {
	site := config.Site(origin)
	paused := false
	core.refusals.Update(func(r *Refusals) {
		now := time.Now()
		r.prune(now, core.limits)
		if d != Deny {
			delete(r.DeniedUntil, site)
			return
		}
		r.denySite(site, now.Add(core.limits.DenyCooldown))
		r.Denials = append(r.Denials, now)
		paused = len(r.Denials) >= core.limits.DenyBurst
		if paused {
			r.QuietUntil = now.Add(core.limits.GlobalCooldown)
			r.Denials = nil
		}
	})
	if paused {
		core.log.Info("consent dialogs paused after repeated denials", "for", core.limits.GlobalCooldown)
	}
}

// lockPIN serialises the PIN flows of a reader (see preparePIN), apart
// from its card work: reads go on while a PIN dialog is open.
func (core *Core) lockPIN(ctx context.Context, name string) (unlock func(), err error) {
	return lockNamed(ctx, &core.mu, core.pinLocks, name)
}

// lockReader serialises card work per reader: requests for one reader run
// one after another, requests for different readers in parallel, whatever
// session or transport they come from.
func (core *Core) lockReader(ctx context.Context, name string) (unlock func(), err error) {
	return lockNamed(ctx, &core.mu, core.readerLocks, name)
}

// lockNamed takes the lock called name in locks, a map guarded by mu.
func lockNamed(ctx context.Context, mu *sync.Mutex, locks map[string]chan struct{}, name string) (unlock func(), err error) {
	mu.Lock()
	l, ok := locks[name]
	if !ok {
		l = make(chan struct{}, 1)
		locks[name] = l
	}
	mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
