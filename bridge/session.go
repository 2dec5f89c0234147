package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// maxIDLen bounds string request ids, in characters.
const maxIDLen = 64

// session is one page's session, over whichever transport.
type session struct {
	core      *Core
	stream    Stream
	origin    string
	transport string

	ctx    context.Context // done when the session ends
	cancel context.CancelFunc

	// wmu serialises the writing of messages: a Stream takes one writer
	// at a time. Responses are written by the goroutine that made them,
	// events by the writer goroutine.
	wmu        sync.Mutex
	writerDone chan struct{}
	evMu       sync.Mutex
	ev         []byte        // latest undelivered event, coalesced
	evSig      chan struct{} // signalled when ev is set

	limiter *rate.Limiter
	reqWG   sync.WaitGroup

	mu      sync.Mutex
	pending map[string]context.CancelCauseFunc // by canonical id

	// grant is how the admission obtained the user's consent; only
	// consented pages get sessions.
	grant consentGrant
	// onceReaders: for grantOnce, the readers as the admission saw them
	// right after the user's answer (or why it could not).
	onceReaders []ReaderInfo
	onceErr     error
	// onceCards: for grantOnce, the cards the user allowed, by reader
	// (their ATRs); empty until there is one (bindOnce).
	onceMu    sync.Mutex
	onceCards map[string][]byte
}

func newSession(core *Core, st Stream, s Session, grant consentGrant) *session {
	c := &session{
		core:       core,
		stream:     st,
		origin:     s.Origin,
		transport:  s.Transport,
		writerDone: make(chan struct{}),
		evSig:      make(chan struct{}, 1),
		limiter:    rate.NewLimiter(rate.Limit(core.limits.RatePerSecond), core.limits.RateBurst),
		pending:    make(map[string]context.CancelCauseFunc),
		grant:      grant,
	}
	c.ctx, c.cancel = context.WithCancel(core.baseCtx)
	return c
}

// serve runs the session until the page or the core ends it.
func (c *session) serve() {
	start := time.Now()
	c.core.log.Info("connected", "origin", c.origin, "transport", c.transport)
	go c.writeLoop()
	c.sendJSON(event{Event: "hello", Data: map[string]any{"protocol": ProtocolVersion, "version": c.core.cfg.Version}})
	if c.grant == grantOnce {
		go c.holdOnce()
	}
	c.readLoop()
	c.cancel()
	c.stream.Close(CloseNormal)
	<-c.writerDone
	// Requests end promptly once ctx is cancelled; wait for them before
	// unsubscribing, since a finishing "readers" call subscribes.
	c.reqWG.Wait()
	c.core.hub.unsubscribe(c)
	c.core.log.Info("disconnected", "origin", c.origin, "transport", c.transport, "duration", time.Since(start).Round(time.Millisecond))
}

// readLoop reads requests until the stream fails or it closes it.
func (c *session) readLoop() {
	max := c.core.limits.MaxMessageBytes
	for {
		data, err := c.stream.ReadMessage(max)
		var perr *Error
		switch {
		case err == nil:
			c.handle(data)
		case errors.Is(err, ErrMessageTooLarge):
			c.core.log.Warn("message too large", "origin", c.origin, "transport", c.transport)
			if c.sendJSON(errorResponse(nil, newError(CodeMessageTooLarge, "message larger than "+strconv.FormatInt(max, 10)+" bytes"))) {
				c.stream.Close(CloseTooLarge)
			}
			return
		case errors.As(err, &perr):
			// A frame the transport refused (binary, say) is charged too.
			if !c.limiter.Allow() {
				perr = newError(CodeRateLimited, "too many requests; slow down")
			}
			c.sendJSON(errorResponse(nil, perr))
		default:
			return
		}
	}
}

// request is an incoming request as decoded from JSON. Members stay raw
// so that a request with a good id but a bad method or params is answered
// under its id.
type request struct {
	ID     json.RawMessage `json:"id"`
	Method json.RawMessage `json:"method"`
	Params json.RawMessage `json:"params"`
}

type response struct {
	ID     json.RawMessage `json:"id"`
	Result any             `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Code    Code           `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

type event struct {
	Event string `json:"event"`
	Data  any    `json:"data"`
}

var jsonNull = json.RawMessage("null")

func errorResponse(id json.RawMessage, e *Error) response {
	if id == nil {
		id = jsonNull
	}
	return response{ID: id, Error: &wireError{Code: e.Code, Message: e.Message, Data: e.Data}}
}

// canonicalID validates a request id (a string of at most 64 characters or
// an integer) and returns it in one canonical JSON form, so that the same
// id spelled with different escapes is one id.
func canonicalID(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || utf8.RuneCountInString(s) > maxIDLen {
			return nil, false
		}
		b, err := json.Marshal(s)
		return b, err == nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, false
		}
		return strconv.AppendInt(nil, n, 10), true
	}
	return nil, false
}

// handle decodes one message and answers it or starts the method.
func (c *session) handle(data []byte) {
	// Every frame is charged, before anything is done with it: frames
	// that are not even JSON cost decoding and an answer too. The id of
	// a refused frame is still read, when it can be, so that the page
	// learns which request was refused.
	limited := !c.limiter.Allow()
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		if limited {
			c.sendJSON(errorResponse(nil, newError(CodeRateLimited, "too many requests; slow down")))
			return
		}
		c.sendJSON(errorResponse(nil, newError(CodeBadRequest, "malformed JSON request")))
		return
	}
	id, ok := canonicalID(req.ID)
	if limited {
		c.sendJSON(errorResponse(id, newError(CodeRateLimited, "too many requests; slow down")))
		return
	}
	if !ok {
		c.sendJSON(errorResponse(nil, newError(CodeBadRequest, "id must be a string of at most 64 characters or an integer")))
		return
	}
	var name string
	if len(req.Method) == 0 || json.Unmarshal(req.Method, &name) != nil || name == "" {
		c.sendJSON(errorResponse(id, newError(CodeBadRequest, "method must be a non-empty string")))
		return
	}
	params := bytes.TrimSpace(req.Params)
	if len(params) == 0 || bytes.Equal(params, jsonNull) {
		params = []byte("{}")
	}
	if params[0] != '{' {
		c.sendJSON(errorResponse(id, newError(CodeBadRequest, "params must be an object")))
		return
	}
	if name == "cancel" {
		c.handleCancel(id, params)
		return
	}
	m, ok := lookupMethod(name)
	if !ok {
		c.sendJSON(errorResponse(id, newError(CodeUnknownMethod, "unknown method")))
		return
	}

	if m.inline {
		c.run(c.ctx, id, name, m, params, nil)
		return
	}
	key := string(id)
	timeout := c.core.limits.RequestTimeout
	if m.prompts {
		timeout = c.core.limits.PromptTimeout
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	c.mu.Lock()
	if _, dup := c.pending[key]; dup {
		c.mu.Unlock()
		cancel(nil)
		c.sendJSON(errorResponse(id, newError(CodeBadRequest, "a request with this id is still pending")))
		return
	}
	if len(c.pending) >= c.core.limits.MaxPending {
		c.mu.Unlock()
		cancel(nil)
		c.sendJSON(errorResponse(id, newError(CodeTooManyPending, "too many requests pending")))
		return
	}
	c.pending[key] = cancel
	c.mu.Unlock()

	c.reqWG.Add(1)
	go func() {
		defer cancel(nil)
		tctx, tcancel := context.WithTimeout(ctx, timeout)
		defer tcancel()
		detached := c.run(tctx, id, name, m, params, func() {
			c.mu.Lock()
			delete(c.pending, key)
			c.mu.Unlock()
		})
		if detached {
			c.core.cardWG.Done()
		} else {
			c.reqWG.Done()
		}
	}()
}

// handleCancel cancels a pending request of this connection.
func (c *session) handleCancel(id json.RawMessage, params []byte) {
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(params, &p) != nil {
		c.sendJSON(errorResponse(id, newError(CodeBadRequest, "invalid params")))
		return
	}
	target, ok := canonicalID(p.ID)
	if !ok {
		c.sendJSON(errorResponse(id, newError(CodeBadRequest, "params.id must be a request id")))
		return
	}
	c.mu.Lock()
	cancel, found := c.pending[string(target)]
	c.mu.Unlock()
	if found {
		cancel(errRequestCancelled)
	}
	c.sendJSON(response{ID: id, Result: map[string]bool{"cancelled": found}})
}

// answer is a request's one response: the method's goroutine sends it
// when the method returns, or, when the request's context ends first, the
// request's watchdog does (see run).
type answer struct {
	mu   sync.Mutex
	sent bool
	// detached: the watchdog answered, and the method's goroutine goes on
	// in the background; it now counts in Server.cardWG instead of the
	// connection's reqWG, so that a page that leaves is not held up by a
	// card that does not answer.
	detached bool
}

// claim reports whether the caller is the one to answer.
func (a *answer) claim() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent {
		return false
	}
	a.sent = true
	return true
}

// run executes one method and sends its answer. done, when not nil, marks
// a pending request (anything but an inline method); it runs before the
// answer is sent, so that a request is no longer pending once the page has
// its answer.
//
// A pending request has a watchdog: when ctx ends (the deadline, the
// page's cancel, the page leaving) before the method returns, the
// watchdog answers TIMEOUT or CANCELLED at once. Most of what a method
// waits for gives up with ctx, but a card exchange cannot be interrupted,
// and a card or reader that hangs would otherwise keep the page waiting
// as long as it hangs. The method then goes on until it notices ctx (its
// next card command does), holding the reader for as long (withCard). run
// reports whether that happened: the request's goroutine was detached
// from the connection and counts in Server.cardWG.
func (c *session) run(ctx context.Context, id json.RawMessage, name string, m method, params []byte, done func()) (detached bool) {
	start := time.Now()
	rc := &reqCtx{conn: c, method: name, guard: &cardGuard{ctx: ctx}}
	a := &answer{}
	if done != nil {
		stop := context.AfterFunc(ctx, func() { c.answerEarly(ctx, rc, a, id, start, done) })
		defer stop()
	}
	var result any
	var err error
	if m.consent {
		err = c.checkConsent()
	}
	if err == nil {
		result, err = m.fn(ctx, rc, params)
	}
	if !a.claim() {
		// The watchdog answered. Let the log tell a wedged reader from a
		// slow page: how long the card really took.
		c.core.log.Info("request ended after its answer", "origin", c.origin, "method", name,
			"reader", rc.readerName(), "duration", time.Since(start).Round(time.Millisecond))
		return true
	}
	var resp response
	outcome := "ok"
	if err != nil {
		e := toError(ctx, err)
		outcome = string(e.Code)
		resp = errorResponse(id, e)
		if e.Code == CodeInternal || e.Code == CodeCardError {
			// Driver errors name commands and status words, never PIN
			// blocks (beid builds VERIFY without apdu.Command).
			c.core.log.Warn("request failed", "origin", c.origin, "method", name, "code", e.Code, "err", err)
		}
	} else {
		resp = response{ID: id, Result: result}
		if act, ok := actionOf(name); ok && c.core.cfg.Activity != nil {
			c.core.cfg.Activity.Record(Activity{Time: time.Now(), Origin: c.origin, Action: act})
		}
	}
	c.logRequest(rc, outcome, start, rc.logAttrs...)
	if done != nil {
		done()
	}
	c.sendJSON(resp)
	if err == nil && rc.afterSend != nil {
		rc.afterSend()
	}
	if errors.Is(err, ErrBlockSite) {
		c.end("site blocked by the user")
	}
	return false
}

// answerEarly is the watchdog of a request whose context ended before its
// method returned: it answers TIMEOUT or CANCELLED, unless the method
// answered first.
func (c *session) answerEarly(ctx context.Context, rc *reqCtx, a *answer, id json.RawMessage, start time.Time, done func()) {
	// A command that spends a PIN try or uses a key may be at the card:
	// the page must not hear back before it is done. None starts after
	// this: the context has ended.
	rc.guard.wait()
	a.mu.Lock()
	if a.sent {
		a.mu.Unlock()
		return
	}
	a.sent, a.detached = true, true
	// Before the connection's count drops: Shutdown waits for cardWG
	// only once no connection is left.
	c.core.cardWG.Add(1)
	a.mu.Unlock()
	defer c.reqWG.Done()
	e := toError(ctx, ctx.Err())
	// Not rc.logAttrs: the method, still running, owns them.
	c.logRequest(rc, string(e.Code), start)
	done()
	c.sendJSON(errorResponse(id, e))
}

// logRequest writes a request's log line, with extra attributes.
func (c *session) logRequest(rc *reqCtx, outcome string, start time.Time, extra ...any) {
	attrs := []any{"origin", c.origin, "method", rc.method, "outcome", outcome,
		"duration", time.Since(start).Round(time.Millisecond)}
	if r := rc.readerName(); r != "" {
		attrs = append(attrs, "reader", r)
	}
	attrs = append(attrs, extra...)
	c.core.log.Info("request", attrs...)
}

// end closes the session from the daemon's side.
func (c *session) end(why string) {
	if c.ctx.Err() != nil {
		return
	}
	c.core.log.Info("session ended", "origin", c.origin, "transport", c.transport, "why", why)
	c.cancel()
	c.stream.Close(CloseNormal)
}

// holdOnce keeps an allow-once session within what the user allowed: the
// card in the readers at that moment (or, when there was none, the first
// one inserted after), for Limits.AllowOnceTTL. The session ends when the
// time is up or that card leaves its reader: another person's card
// inserted later is not what the user said yes to.
func (c *session) holdOnce() {
	timer := time.NewTimer(c.core.limits.AllowOnceTTL)
	defer timer.Stop()
	go func() {
		select {
		case <-timer.C:
			c.end("allow-once time limit")
		case <-c.ctx.Done():
		}
	}()
	readers := c.core.cfg.Readers
	known, err := c.onceReaders, c.onceErr
	if err != nil {
		c.end("cannot watch the card of an allow-once session")
		return
	}
	for c.ctx.Err() == nil {
		for name, atr := range c.bindOnce(known) {
			if !cardStill(known, name, atr) {
				c.end("the card allowed once left its reader")
				return
			}
		}
		if known, err = readers.Watch(c.ctx, known); err != nil {
			if c.ctx.Err() == nil {
				c.end("cannot watch the card of an allow-once session")
			}
			return
		}
	}
}

// bindOnce binds an allow-once session that has no card yet to the
// cards in list, and returns the cards it is bound to (reader → ATR).
func (c *session) bindOnce(list []ReaderInfo) map[string][]byte {
	c.onceMu.Lock()
	defer c.onceMu.Unlock()
	if len(c.onceCards) == 0 {
		c.onceCards = make(map[string][]byte)
		for _, r := range list {
			if r.CardPresent {
				c.onceCards[r.Name] = r.ATR
			}
		}
	}
	return maps.Clone(c.onceCards)
}

// onceAllows refuses an allow-once session the card of info, from the
// readers in list, unless it is a card the user allowed: another
// person's card inserted later in another reader is not.
func (c *session) onceAllows(list []ReaderInfo, info ReaderInfo) error {
	if c.grant != grantOnce {
		return nil
	}
	if atr, ok := c.bindOnce(list)[info.Name]; !ok || !bytes.Equal(atr, info.ATR) || c.onceErr != nil {
		return newError(CodeConsentDenied, "this site was allowed once, for another card")
	}
	return nil
}

// cardStill reports whether reader name still holds a card with atr.
func cardStill(list []ReaderInfo, name string, atr []byte) bool {
	for _, r := range list {
		if r.Name == name {
			return r.CardPresent && bytes.Equal(r.ATR, atr)
		}
	}
	return false
}

// checkConsent is the per-request check behind the handshake's, which
// let in only connections the user consented to. It fails only when a
// standing consent was revoked since the connection opened (the tray's
// "forget this site"). It never asks: a page is asked again only when it
// reconnects, at the handshake.
func (c *session) checkConsent() error {
	if c.grant == grantOnce || c.core.preConsented(c.origin) {
		return nil
	}
	return newError(CodeConsentDenied, "this site is not allowed to use the card")
}

// sendJSON writes v as one message, and reports whether it did. It gives
// up when the session ends; a write that fails or times out (a page that
// does not read) ends the session.
//
// The message is written by the calling goroutine, not handed to the
// writer goroutine: a hand-off costs a thread wake-up per response, and
// responses are what pages wait for.
func (c *session) sendJSON(v any) bool {
	buf := encodeMessage(v, c.core.log)
	ok := c.write(buf.Bytes())
	putBuffer(buf)
	return ok
}

// write writes one message, and reports whether it did.
func (c *session) write(b []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ctx.Err() != nil {
		return false
	}
	if err := c.stream.WriteMessage(b); err != nil {
		// A page that does not read gets its session dropped rather
		// than holding our goroutines.
		c.cancel()
		c.stream.Close(CloseNormal)
		return false
	}
	return true
}

// bufPool holds the buffers messages are encoded in, so that a response
// (several kilobytes with a photo) is not a fresh buffer, and garbage, each
// time.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encodeMessage encodes v as JSON in a pooled buffer (without the newline
// json.Encoder adds). Return the buffer with putBuffer.
func encodeMessage(v any, log *slog.Logger) *bytes.Buffer {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		log.Error("cannot encode message", "err", err)
		buf.Reset()
		json.NewEncoder(buf).Encode(errorResponse(nil, newError(CodeInternal, "internal error")))
	}
	buf.Truncate(buf.Len() - 1)
	return buf
}

// putBuffer returns a buffer to the pool, unless it grew unusually large.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 256<<10 {
		bufPool.Put(buf)
	}
}

// sendEvent replaces any undelivered event: events carry full state, so
// a slow page loses nothing by seeing only the latest one.
func (c *session) sendEvent(b []byte) {
	c.evMu.Lock()
	c.ev = b
	c.evMu.Unlock()
	select {
	case c.evSig <- struct{}{}:
	default:
	}
}

// writeLoop writes the events.
func (c *session) writeLoop() {
	defer close(c.writerDone)
	for {
		select {
		case <-c.evSig:
			c.evMu.Lock()
			b := c.ev
			c.ev = nil
			c.evMu.Unlock()
			if b != nil && !c.write(b) {
				return
			}
		case <-c.ctx.Done():
			return
		}
	}
}
