package nativemsg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cardbridge/cardbridge/bridge"
)

// The relay: when the daemon runs, a host started by the browser hands its
// session to it over a per-user channel (a Unix socket of mode 0600 in the
// user's runtime directory, whose peer's uid is checked; a named pipe only
// the user's SID may open on Windows), so that every session goes through
// the daemon's one core: one consent store, one dialog queue, one lock per
// reader, one tray icon.
//
// The host is then a pipe: after relayMagic it copies the browser's frames
// to the daemon and the daemon's back, unchanged. The daemon serves the
// connection exactly as a host serves its stdio (Serve): the extension's
// "open" message names the origin, and the daemon's own framing limits
// apply. A process of the same user can open the channel and name any
// origin, as it can send any Origin header to the WebSocket; no other
// user can open it, and a page cannot reach it at all.

// relayMagic starts every relay connection, so that a stray client is
// told apart at once and the format can change later. relayMagicFiles,
// of the same length, says the host passed the browser's pipes along
// with it (Unix sockets only) instead of copying bytes.
const (
	relayMagic      = "cardbridge-relay/1\n"
	relayMagicFiles = "cardbridge-relay/F\n"
)

// ErrRelayPeer: the other end of the relay channel is another OS user.
var ErrRelayPeer = errors.New("nativemsg: relay peer is another user")

// ErrRelayInUse: another daemon of this user serves the relay channel.
var ErrRelayInUse = errors.New("nativemsg: another cardbridge serves the relay")

// Relay is the host's side of the relay. Where it can (a Unix socket,
// and in and out the host's own stdin and stdout), it passes the browser's
// pipes to the daemon, which then reads and writes the browser's frames
// itself, and waits for the daemon to hang up when the session ends.
// Otherwise it copies in (the browser's frames) to conn and conn to out
// (the browser) until either side ends. It closes conn.
func Relay(ctx context.Context, conn io.ReadWriteCloser, in io.Reader, out io.Writer) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if sent, err := sendFiles(conn, in, out); sent {
		if err != nil {
			return err
		}
		// The daemon closes the connection once the session is over.
		_, err := io.Copy(io.Discard, conn)
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		return err
	}
	if _, err := io.WriteString(conn, relayMagic); err != nil {
		return fmt.Errorf("nativemsg: relay: %w", err)
	}
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(conn, in)
		// The browser closed stdin: the session is over; closing conn
		// ends it in the daemon too.
		errc <- err
	}()
	go func() {
		_, err := io.Copy(out, conn)
		errc <- err
	}()
	err := <-errc
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// ServeRelay serves the hosts that connect on ln, each as Serve serves a
// host's stdio, until ctx is done; it then closes ln and waits for the
// sessions it started to end. ln should come from ListenRelay, which
// refuses other users.
func ServeRelay(ctx context.Context, core *bridge.Core, ln net.Listener) error {
	log := core.Logger()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("nativemsg: relay: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stopConn := context.AfterFunc(cctx, func() { conn.Close() })
			defer stopConn()
			// A host sends its preamble at once: a client that does
			// not holds no goroutine for long.
			conn.SetReadDeadline(time.Now().Add(OpenTimeout))
			files, err := readPreamble(conn)
			conn.SetReadDeadline(time.Time{})
			if err != nil {
				log.Warn("relay: not a cardbridge host", "err", err)
				return
			}
			if files != nil {
				// The browser's own pipes: the host only waits for
				// this connection to close.
				defer closeFiles(files)
				stopFiles := context.AfterFunc(cctx, func() { closeFiles(files) })
				defer stopFiles()
				err = Serve(cctx, core, bufio.NewReaderSize(files[0], 64<<10), files[1])
			} else {
				// Buffered: a frame's length and body come in one read.
				err = Serve(cctx, core, bufio.NewReaderSize(conn, 64<<10), conn)
			}
			if err != nil {
				log.Info("relay session ended", "err", err)
			}
		}()
	}
}

func readMagic(r io.Reader, magic string) error {
	b := make([]byte, len(magic))
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if string(b) != magic {
		return errors.New("nativemsg: bad relay preamble")
	}
	return nil
}

// peerListener is a relay listener that drops, before any byte is read,
// connections whose peer is another OS user, and logs them at a bounded
// rate.
type peerListener struct {
	net.Listener
	check   func(net.Conn) error
	log     *slog.Logger
	limiter *rate.Limiter
	onClose func()
	once    sync.Once
}

func newPeerListener(ln net.Listener, check func(net.Conn) error, log *slog.Logger, onClose func()) *peerListener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &peerListener{Listener: ln, check: check, log: log, limiter: rate.NewLimiter(rate.Every(10*time.Second), 5), onClose: onClose}
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := l.check(c); err != nil {
			if l.limiter.Allow() {
				l.log.Warn("relay: refused a connection", "err", err)
			}
			c.Close()
			continue
		}
		return c, nil
	}
}

func (l *peerListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		if l.onClose != nil {
			l.onClose()
		}
	})
	return err
}

// PingRelay reports whether the daemon's relay at path answers, checked
// as a host checks it, and hangs up without opening a session.
func PingRelay(ctx context.Context, path string) error {
	c, err := DialRelay(ctx, path)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = io.WriteString(c, relayMagic)
	return err
}
