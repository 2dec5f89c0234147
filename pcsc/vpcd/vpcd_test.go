package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// testCard is a minimal Card: a fixed ATR, a reset counter, and a response
// function (echo with 90 00 by default).
type testCard struct {
	atr []byte

	mu     sync.Mutex
	resets int
	cmds   [][]byte

	respond func(cmd []byte) ([]byte, error)
}

func (c *testCard) ATR() []byte { return c.atr }

func (c *testCard) Reset() {
	c.mu.Lock()
	c.resets++
	c.mu.Unlock()
}

func (c *testCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	c.cmds = append(c.cmds, bytes.Clone(cmd))
	c.mu.Unlock()
	if c.respond != nil {
		return c.respond(cmd)
	}
	return append(bytes.Clone(cmd), 0x90, 0x00), nil
}

func (c *testCard) resetCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

// fakeDriver plays vpcd's side: it listens, and the card connects to it.
type fakeDriver struct {
	t  testing.TB
	ln net.Listener
}

func newFakeDriver(t testing.TB) *fakeDriver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeDriver{t: t, ln: ln}
}

func (d *fakeDriver) addr() string { return d.ln.Addr().String() }

// accept waits for the card to connect.
func (d *fakeDriver) accept() net.Conn {
	d.t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := d.ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			d.t.Fatalf("accept: %v", r.err)
		}
		d.t.Cleanup(func() { r.c.Close() })
		_ = r.c.SetDeadline(time.Now().Add(10 * time.Second))
		return r.c
	case <-time.After(10 * time.Second):
		d.t.Fatal("card did not connect")
		return nil
	}
}

func send(t testing.TB, c net.Conn, payload ...byte) {
	t.Helper()
	buf := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := c.Write(append(buf, payload...)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func recv(t testing.TB, c net.Conn) []byte {
	t.Helper()
	b, err := readFrame(c)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return b
}

// expectClosed asserts that the card closed the connection without sending
// anything more.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read after close = %d, %v; want 0, EOF", n, err)
	}
}

var testATR = []byte{0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11}

func TestExchange(t *testing.T) {
	tests := []struct {
		name       string
		send       []byte
		want       []byte // nil: no reply expected
		wantResets int
	}{
		{"power on", []byte{codePowerOn}, nil, 1},
		{"power off", []byte{codePowerOff}, nil, 1},
		{"reset", []byte{codeReset}, nil, 1},
		{"unknown control code", []byte{0x03}, nil, 0},
		{"empty frame", []byte{}, nil, 0},
		{"get ATR", []byte{codeGetATR}, testATR, 0},
		{"case 1 APDU", []byte{0x00, 0xA4, 0x00, 0x0C}, []byte{0x00, 0xA4, 0x00, 0x0C, 0x90, 0x00}, 0},
		{"two-byte command is an APDU", []byte{0x04, 0x04}, []byte{0x04, 0x04, 0x90, 0x00}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDriver(t)
			card := &testCard{atr: testATR}
			in, err := Insert(t.Context(), d.addr(), card)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Remove()
			c := d.accept()

			send(t, c, tt.send...)
			if tt.want != nil {
				if got := recv(t, c); !bytes.Equal(got, tt.want) {
					t.Fatalf("reply = % X, want % X", got, tt.want)
				}
			}
			// A get-ATR after the frame proves no stray reply was queued
			// before it, and that the card is still being served.
			send(t, c, codeGetATR)
			if got := recv(t, c); !bytes.Equal(got, testATR) {
				t.Fatalf("next reply = % X, want the ATR", got)
			}
			if got := card.resetCount(); got != tt.wantResets {
				t.Errorf("resets = %d, want %d", got, tt.wantResets)
			}
		})
	}
}

func TestFraming(t *testing.T) {
	d := newFakeDriver(t)
	long := make([]byte, 4+1+255+1) // an extended-looking APDU, 261 bytes
	for i := range long {
		long[i] = byte(i)
	}
	card := &testCard{atr: testATR, respond: func(cmd []byte) ([]byte, error) {
		// Answer with a response whose length needs both length bytes.
		return append(bytes.Repeat([]byte{0xAB}, 0x1234), 0x90, 0x00), nil
	}}
	in, err := Insert(t.Context(), d.addr(), card)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	c := d.accept()

	// Dribble the frame one byte per write, as a slow stream could.
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(long)))
	frame = append(frame, long...)
	for _, b := range frame {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if n := binary.BigEndian.Uint16(hdr[:]); n != 0x1236 {
		t.Fatalf("length prefix = %#x, want 0x1236", n)
	}
	body := make([]byte, 0x1236)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(body, []byte{0x90, 0x00}) {
		t.Errorf("response does not end in 90 00")
	}
	if len(card.cmds) != 1 || !bytes.Equal(card.cmds[0], long) {
		t.Errorf("card got %d commands; want the 261-byte APDU once", len(card.cmds))
	}
}

func TestResponseTooLong(t *testing.T) {
	d := newFakeDriver(t)
	card := &testCard{atr: testATR, respond: func([]byte) ([]byte, error) {
		return make([]byte, maxFrame+1), nil
	}}
	in, err := Insert(t.Context(), d.addr(), card)
	if err != nil {
		t.Fatal(err)
	}
	c := d.accept()
	send(t, c, 0x00, 0xB0, 0x00, 0x00, 0x00)
	if err := in.Wait(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Wait = %v, want ErrProtocol", err)
	}
	expectClosed(t, c)
}

func TestCardPulledDuringTransmit(t *testing.T) {
	d := newFakeDriver(t)
	gone := errors.New("card yanked")
	card := &testCard{atr: testATR, respond: func([]byte) ([]byte, error) { return nil, gone }}
	in, err := Insert(t.Context(), d.addr(), card)
	if err != nil {
		t.Fatal(err)
	}
	c := d.accept()
	send(t, c, 0x00, 0xA4, 0x04, 0x00)
	// The driver must see the connection drop with no reply at all.
	expectClosed(t, c)
	err = in.Wait()
	if !errors.Is(err, ErrPulled) || !errors.Is(err, gone) {
		t.Fatalf("Wait = %v, want ErrPulled wrapping the card's error", err)
	}
}

func TestServeReturnsNilWhenContextEnds(t *testing.T) {
	d := newFakeDriver(t)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, d.addr(), &testCard{atr: testATR}) }()
	c := d.accept()
	send(t, c, codeGetATR)
	recv(t, c)

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	expectClosed(t, c)
}

func TestServeReportsDriverHangup(t *testing.T) {
	d := newFakeDriver(t)
	errc := make(chan error, 1)
	go func() { errc <- Serve(t.Context(), d.addr(), &testCard{atr: testATR}) }()
	c := d.accept()
	c.Close()
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, ErrPulled) {
			t.Fatalf("Serve = %v, want a connection error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the driver hung up")
	}
}

func TestInsertionRemove(t *testing.T) {
	d := newFakeDriver(t)
	in, err := Insert(t.Context(), d.addr(), &testCard{atr: testATR})
	if err != nil {
		t.Fatal(err)
	}
	c := d.accept()
	in.Remove()
	in.Remove() // idempotent
	expectClosed(t, c)
	select {
	case <-in.Done():
	default:
		t.Fatal("Done not closed after Remove")
	}
	if err := in.Wait(); err != nil {
		t.Fatalf("Wait after Remove = %v, want nil", err)
	}
}

func TestInsertNoListener(t *testing.T) {
	addr := unusedAddr(t)
	if _, err := Insert(t.Context(), addr, &testCard{atr: testATR}); err == nil {
		t.Fatal("Insert succeeded with nothing listening")
	}
}

func TestServeRetry(t *testing.T) {
	addr := unusedAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- ServeRetry(ctx, addr, &testCard{atr: testATR}, 10*time.Millisecond) }()

	// vpcd comes up only after the card started trying.
	time.Sleep(50 * time.Millisecond)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("could not re-listen on %s: %v", addr, err)
	}
	d := &fakeDriver{t: t, ln: ln}
	t.Cleanup(func() { ln.Close() })

	c := d.accept()
	send(t, c, codeGetATR)
	if got := recv(t, c); !bytes.Equal(got, testATR) {
		t.Fatalf("ATR = % X", got)
	}
	// pcscd restarts: the connection drops, and the card comes back.
	c.Close()
	c = d.accept()
	send(t, c, codeGetATR)
	if got := recv(t, c); !bytes.Equal(got, testATR) {
		t.Fatalf("ATR after reconnect = % X", got)
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("ServeRetry = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeRetry did not return after cancel")
	}
}

func TestServeRetryStopsOnPull(t *testing.T) {
	d := newFakeDriver(t)
	gone := errors.New("pulled on purpose")
	card := &testCard{atr: testATR, respond: func([]byte) ([]byte, error) { return nil, gone }}
	errc := make(chan error, 1)
	go func() { errc <- ServeRetry(t.Context(), d.addr(), card, time.Millisecond) }()
	c := d.accept()
	send(t, c, 0x00, 0x00, 0x00, 0x00)
	select {
	case err := <-errc:
		if !errors.Is(err, gone) {
			t.Fatalf("ServeRetry = %v, want the card's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeRetry kept going after the card pulled itself")
	}
}

// unusedAddr returns a loopback address nothing listens on (for now).
func unusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// BenchmarkRoundTrip measures one APDU against a driver that behaves like
// vpcd 0.8: Nagle left on and the length and payload sent in two writes.
// Without TCP_QUICKACK on the card side this costs about 40 ms per op on
// Linux; with it, tens of microseconds.
func BenchmarkRoundTrip(b *testing.B) {
	d := newFakeDriver(b)
	in, err := Insert(b.Context(), d.addr(), &testCard{atr: testATR})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Remove()
	c := d.accept()
	_ = c.(*net.TCPConn).SetNoDelay(false)
	_ = c.SetDeadline(time.Time{})
	apdu := []byte{0x00, 0xB0, 0x00, 0x00, 0x10}
	for b.Loop() {
		if _, err := c.Write([]byte{0, byte(len(apdu))}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(apdu); err != nil {
			b.Fatal(err)
		}
		if _, err := readFrame(c); err != nil {
			b.Fatal(err)
		}
	}
}
