package nativemsg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cardbridge/cardbridge/bridge"
)

// Transport is the bridge.Session.Transport of native-messaging sessions.
const Transport = "native"

// OpenTimeout bounds the wait for the extension's "open" message: the
// extension sends it right after starting the host.
const OpenTimeout = 10 * time.Second

// openMessage is the extension's first message (docs/protocol.md,
// "Transport"). The origin is the one the browser gave the extension as
// the sender of the page's port, never one the page wrote.
type openMessage struct {
	Cardbridge string `json:"cardbridge"`
	Protocol   int    `json:"protocol"`
	Origin     string `json:"origin"`
}

// Serve runs one extension session: it reads the "open" message from in,
// has core admit its origin (the same consent store and dialogs as the
// WebSocket), and then answers "refused" or serves the session, protocol
// v1 frames unchanged, on out. It returns when in ends, the session ends
// or ctx is done. A refusal is returned as the *bridge.RefusedError the
// page was sent; an in that ends before "open" is no error.
func Serve(ctx context.Context, core *bridge.Core, in io.Reader, out io.Writer) error {
	st := newStream(in, out, core.Limits().MaxMessageBytes, core.Logger())
	go st.readLoop()

	octx, cancel := context.WithTimeout(ctx, OpenTimeout)
	first, err := st.next(octx)
	cancel()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil // the browser closed the port before it opened
		}
		st.refuse(bridge.CodeBadRequest, "expected the extension's open message")
		return fmt.Errorf("nativemsg: no open message: %w", err)
	}
	origin, err := parseOpen(first)
	if err != nil {
		st.refuse(bridge.CodeBadRequest, err.Error())
		return err
	}
	// When the page goes away while the user is asked, the browser
	// closes the port: the dialog closes with it.
	actx, acancel := context.WithCancel(ctx)
	stop := context.AfterFunc(st.goneCtx, acancel)
	// A page may send requests before hello (docs/protocol.md §1). They
	// are read during the admission and kept for the session, rather than
	// left in the read-ahead, where one would keep the end of the input
	// unseen, and the dialog open after the page left. A page that sends
	// more than a session could have pending is refused.
	early := make(chan [][]byte, 1)
	go func() {
		var kept [][]byte
		for {
			b, err := st.next(actx)
			if err != nil {
				break
			}
			kept = append(kept, b)
			if len(kept) > core.Limits().MaxPending {
				acancel()
				break
			}
		}
		early <- kept
	}()
	adm, err := core.Admit(actx, bridge.Session{Origin: origin, Transport: Transport})
	stop()
	acancel()
	st.pending = <-early
	if len(st.pending) > core.Limits().MaxPending {
		if err == nil {
			adm.Release()
		}
		st.refuse(bridge.CodeTooManyPending, "too many requests before hello")
		return fmt.Errorf("nativemsg: more than %d requests before hello", core.Limits().MaxPending)
	}
	if err != nil {
		var ref *bridge.RefusedError
		if errors.As(err, &ref) {
			st.refuse(ref.Code, ref.Reason)
		} else {
			st.refuse(bridge.CodeInternal, "internal error")
		}
		return err
	}
	return core.Serve(ctx, adm, st)
}

// parseOpen checks the open message and returns the origin it names.
// Anything but an open for protocol 1 with a string origin is refused;
// the origin itself is judged by the core's policy.
func parseOpen(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errors.New("nativemsg: the open message is not UTF-8")
	}
	var m openMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", errors.New("nativemsg: the open message is not a JSON object")
	}
	if m.Cardbridge != "open" {
		return "", errors.New(`nativemsg: the first message must be {"cardbridge":"open",...}`)
	}
	if m.Protocol != bridge.ProtocolVersion {
		return "", fmt.Errorf("nativemsg: protocol %d is not supported (want %d)", m.Protocol, bridge.ProtocolVersion)
	}
	if m.Origin == "" {
		return "", errors.New("nativemsg: the open message names no origin")
	}
	return m.Origin, nil
}

// stream is a bridge.Stream over the browser's stdio framing. A goroutine
// reads frames ahead, one at a time, so that the end of the input is seen
// even while the session waits for the user.
type stream struct {
	in  io.Reader
	out io.Writer
	max int64
	log *slog.Logger

	frames  chan []byte
	pending [][]byte        // read before the session began, served first
	goneCtx context.Context // done once the input ended
	gone    context.CancelFunc
	readErr error // why the input ended; set before gone is called

	closeOnce sync.Once
	closed    chan struct{}
}

func newStream(in io.Reader, out io.Writer, max int64, log *slog.Logger) *stream {
	st := &stream{in: in, out: out, max: max, log: log, frames: make(chan []byte), closed: make(chan struct{})}
	st.goneCtx, st.gone = context.WithCancel(context.Background())
	return st
}

func (st *stream) readLoop() {
	for {
		b, err := ReadFrame(st.in, st.max)
		if err != nil {
			st.readErr = err
			st.gone()
			return
		}
		select {
		case st.frames <- b:
		case <-st.closed:
			return
		}
	}
}

// next returns the next frame, or why there is none.
func (st *stream) next(ctx context.Context) ([]byte, error) {
	if len(st.pending) > 0 {
		b := st.pending[0]
		st.pending = st.pending[1:]
		return b, nil
	}
	select {
	case b := <-st.frames:
		return b, nil
	case <-st.goneCtx.Done():
		return nil, st.readErr
	case <-st.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ReadMessage implements bridge.Stream.
func (st *stream) ReadMessage(int64) ([]byte, error) {
	b, err := st.next(context.Background())
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		return nil, fmt.Errorf("%w: %w", bridge.ErrMessageTooLarge, err)
	case err != nil:
		return nil, err
	case !utf8.Valid(b):
		return nil, &bridge.Error{Code: bridge.CodeBadRequest, Message: "message is not valid UTF-8"}
	}
	return b, nil
}

// WriteMessage implements bridge.Stream. A message over the browser's
// limit is not sent: a response becomes a MESSAGE_TOO_LARGE error under
// its id, an event is dropped (and logged).
func (st *stream) WriteMessage(b []byte) error {
	if len(b) > MaxToBrowser {
		b = tooLargeAnswer(b)
		if b == nil {
			st.log.Warn("event larger than native messaging allows; not sent", "transport", Transport)
			return nil
		}
		st.log.Warn("response larger than native messaging allows; sent an error instead", "transport", Transport)
	}
	return WriteFrame(st.out, b)
}

// tooLargeAnswer is the error response that replaces a response too large
// to send, or nil for an event.
func tooLargeAnswer(b []byte) []byte {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(b, &m) != nil || m.ID == nil {
		return nil
	}
	out, err := json.Marshal(map[string]any{"id": m.ID, "error": map[string]any{
		"code":    bridge.CodeMessageTooLarge,
		"message": "the answer is larger than the " + strconv.Itoa(MaxToBrowser) + " bytes native messaging allows",
		"data":    map[string]any{"direction": "response"},
	}})
	if err != nil {
		return nil
	}
	return out
}

// Close implements bridge.Stream: it ends ReadMessage. The input itself
// stays open (the host's stdin is the browser's to close); the host
// exits once its session is over.
func (st *stream) Close(bridge.CloseReason) error {
	st.closeOnce.Do(func() { close(st.closed) })
	return nil
}

// refuse sends the "refused" event that ends a session before it began.
func (st *stream) refuse(code bridge.Code, msg string) {
	b, err := json.Marshal(map[string]any{"event": "refused", "data": map[string]any{"code": code, "message": msg}})
	if err == nil {
		_ = WriteFrame(st.out, b)
	}
}
