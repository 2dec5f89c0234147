// Package vpcd is the card side of the vsmartcard "vpcd" protocol: it plugs a
// software smart card into pcscd's virtual reader driver over TCP, so that any
// PC/SC client (ours, OpenSC, a browser extension) sees a card in
// "Virtual PCD 00 00" that is really a Go value.
//
// The reader driver listens (port 35963 for the first slot) and the card
// connects to it. Opening the connection is inserting the card; closing it is
// pulling the card. Both directions exchange frames made of a 2-byte
// big-endian length followed by that many bytes. A 1-byte frame from the
// driver is a control code (power off, power on, reset, get ATR); a longer one
// is a command APDU that the card answers with its response APDU.
//
// The package is pure Go; it needs nothing from pcsc-lite.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultAddr is where vpcd listens for the card of its first reader,
// "Virtual PCD 00 00". The second reader listens on port 35964.
const DefaultAddr = "127.0.0.1:35963"

// Control codes sent by the driver as 1-byte frames.
const (
	codePowerOff = 0
	codePowerOn  = 1
	codeReset    = 2
	codeGetATR   = 4
)

// maxFrame is the largest payload the 2-byte length prefix can carry.
const maxFrame = 0xFFFF

var (
	// ErrPulled reports that the card ended the session: its Transmit
	// returned an error, so the connection was dropped without a reply, which
	// pcscd sees as the card being pulled mid-command. The card's error is
	// wrapped alongside it.
	ErrPulled = errors.New("vpcd: card pulled")

	// ErrProtocol reports a frame that breaks the vpcd wire format (for
	// example a response too long for the 2-byte length prefix).
	ErrProtocol = errors.New("vpcd: protocol error")
)

// Card is a smart card that can be inserted into the virtual reader.
//
// The driver calls its methods from a single goroutine, one at a time.
type Card interface {
	// ATR returns the card's Answer To Reset. pcscd asks for it every few
	// hundred milliseconds to check that the card is still there, so it must
	// be cheap and always available.
	ATR() []byte
	// Reset returns the card to its power-up state (selected applet,
	// security status). It is called on power off, power on and reset.
	Reset()
	// Transmit answers one command APDU with a response APDU (data and
	// status word). An error means the card is gone: the connection is
	// dropped without replying, exactly as if the card had been pulled out
	// of the reader during the command.
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// Serve inserts card into the vpcd reader listening at addr (DefaultAddr if
// empty) and answers the driver until ctx ends or the connection breaks.
//
// It returns nil when ctx ends (the card is pulled cleanly), an error wrapping
// ErrPulled when the card's Transmit failed, and another error when vpcd could
// not be reached or closed the connection (for example because pcscd stopped).
func Serve(ctx context.Context, addr string, card Card) error {
	in, err := Insert(ctx, addr, card)
	if err != nil {
		return err
	}
	return in.Wait()
}

// ServeRetry is Serve for long-running simulators: while vpcd is not
// listening, or after pcscd drops the connection (a pcscd restart), it tries
// again, waiting backoff after the first failure and doubling the wait up to
// 32×backoff while failures continue. It returns nil when ctx ends and an
// error wrapping ErrPulled if the card's Transmit fails, since that is a
// deliberate pull rather than an outage.
func ServeRetry(ctx context.Context, addr string, card Card, backoff time.Duration) error {
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	wait := backoff
	for {
		in, err := Insert(ctx, addr, card)
		if err == nil {
			wait = backoff // we reached vpcd: the outage, if any, is over
			err = in.Wait()
			if err == nil || errors.Is(err, ErrPulled) {
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(wait*2, 32*backoff)
	}
}

// An Insertion is a card sitting in the virtual reader, served by a
// background goroutine. It is the building block for tests that need to pull
// and reinsert a card at a given moment.
type Insertion struct {
	conn   net.Conn
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// Insert connects card to the vpcd reader at addr (DefaultAddr if empty) and
// serves it in the background. It returns once the TCP connection is up; pcscd
// notices the card a moment later (it polls its readers about every 400 ms),
// so callers wait for the reader state, not for Insert.
//
// The card stays inserted until Remove is called, ctx ends, or the connection
// breaks.
func Insert(ctx context.Context, addr string, card Card) (*Insertion, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vpcd: connect to %s: %w", addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Our writes are whole frames; never let Nagle hold one back.
		_ = tc.SetNoDelay(true)
	}
	ctx, cancel := context.WithCancel(ctx)
	in := &Insertion{conn: conn, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		in.err = serveConn(ctx, conn, card)
	}()
	return in, nil
}

// Remove pulls the card: it closes the connection and waits for the serving
// goroutine to finish. It is safe to call more than once.
func (in *Insertion) Remove() {
	in.cancel()
	<-in.done
}

// Done is closed when the card is no longer being served.
func (in *Insertion) Done() <-chan struct{} { return in.done }

// Wait blocks until the card is no longer served and returns why, with the
// same meaning as Serve's result.
func (in *Insertion) Wait() error {
	<-in.done
	return in.err
}

// serveConn runs the request/response loop on an established connection and
// closes it when done.
func serveConn(ctx context.Context, conn net.Conn, card Card) error {
	var closeOnce sync.Once
	closeConn := func() { closeOnce.Do(func() { conn.Close() }) }
	defer closeConn()
	// Closing the connection is the only way to interrupt a blocked Read
	// without a deadline-polling loop.
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()

	r := &quickAckReader{conn: conn}
	for {
		req, err := readFrame(r)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("vpcd: connection closed by reader driver: %w", err)
			}
			return fmt.Errorf("vpcd: read: %w", err)
		}
		rsp, reply, err := handle(ctx, card, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !reply {
			continue
		}
		if err := writeFrame(conn, rsp); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("vpcd: write: %w", err)
		}
	}
}

// handle answers one frame from the driver. reply is false for the control
// codes that vpcd does not expect an answer to.
func handle(ctx context.Context, card Card, req []byte) (rsp []byte, reply bool, err error) {
	if len(req) == 1 {
		switch req[0] {
		case codePowerOff, codePowerOn, codeReset:
			card.Reset()
			return nil, false, nil
		case codeGetATR:
			return card.ATR(), true, nil
		default:
			// Unknown control codes get no answer: replying to something
			// the driver does not wait for would desynchronise the stream.
			return nil, false, nil
		}
	}
	if len(req) == 0 {
		return nil, false, nil
	}
	rsp, err = card.Transmit(ctx, req)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrPulled, err)
	}
	return rsp, true, nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// writeFrame sends length and payload in one write. vpcd itself sends them in
// two writes, which is what makes delayed ACKs hurt; we do not repeat that.
func writeFrame(w io.Writer, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("%w: %d-byte response does not fit a frame", ErrProtocol, len(payload))
	}
	buf := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(buf, uint16(len(payload)))
	copy(buf[2:], payload)
	_, err := w.Write(buf)
	return err
}

// quickAckReader sets TCP_QUICKACK around every read.
//
// vpcd 0.8 writes a frame's length and payload separately on a socket without
// TCP_NODELAY. With Linux delaying our ACK of the first segment, Nagle makes
// vpcd hold the second one until the delayed-ACK timer fires: about 40 ms per
// APDU. Quick-ack mode makes us ACK at once; the kernel drops out of it on its
// own, hence setting it again on every read.
type quickAckReader struct {
	conn net.Conn
}

func (r *quickAckReader) Read(p []byte) (int, error) {
	setQuickAck(r.conn)
	n, err := r.conn.Read(p)
	setQuickAck(r.conn)
	return n, err
}
