package apdu

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Transmitter sends one command APDU and returns the card's raw response
// APDU (data and status word). Implementations must honour ctx and must be
// safe for the sequential use Exchange makes of them; they need not be safe
// for concurrent use.
type Transmitter interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
}

// TransmitterFunc adapts a function to the Transmitter interface.
type TransmitterFunc func(ctx context.Context, command []byte) ([]byte, error)

// Transmit calls f.
func (f TransmitterFunc) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	return f(ctx, command)
}

// maxGetResponses bounds the 61xx loop so that a card that keeps answering
// 61xx cannot make Exchange spin forever.
const maxGetResponses = 256

// ErrProtocol is returned when a card breaks the T=0 conventions, for
// example by answering 6Cxx to a command already sent with that Le.
var ErrProtocol = errors.New("apdu: card protocol error")

// Exchange sends cmd and returns the complete response, following the T=0
// conventions the way a reader driver would not: a 6Cxx answer is retried
// once with Le=xx, and 61xx answers are collected with GET RESPONSE until
// the card has nothing more to give. The status word of the final response
// is returned as is, not as an error; callers check it.
func Exchange(ctx context.Context, t Transmitter, cmd Command) (Response, error) {
	return Exchanger{}.Exchange(ctx, t, cmd)
}

// An Exchanger is Exchange and Run with settings for cards that need them.
// The zero value behaves as the package functions.
type Exchanger struct {
	// ResendDelay is the pause between a 6Cxx answer and the command sent
	// again with the exact length. Some cards stay mute when the repeat
	// comes at once: the Belgian eID is one (see apdu/beid).
	ResendDelay time.Duration
}

// Exchange is the package's Exchange with x's settings.
func (x Exchanger) Exchange(ctx context.Context, t Transmitter, cmd Command) (Response, error) {
	resp, err := x.transmitExact(ctx, t, cmd)
	if err != nil {
		return Response{}, err
	}
	n, more := resp.SW.MoreData()
	if !more {
		return resp, nil
	}
	data := append([]byte(nil), resp.Data...)
	for i := 0; more; i++ {
		if i == maxGetResponses {
			return Response{}, fmt.Errorf("%w: more than %d GET RESPONSE rounds", ErrProtocol, maxGetResponses)
		}
		gr := Command{CLA: cmd.CLA & 0x03, INS: InsGetResponse, Le: n} // keep only the channel bits
		if resp, err = x.transmitExact(ctx, t, gr); err != nil {
			return Response{}, err
		}
		data = append(data, resp.Data...)
		n, more = resp.SW.MoreData()
	}
	resp.Data = data
	return resp, nil
}

// Run is Exchange followed by a status word check: it returns the response
// data when the card answered 9000, and a *StatusError otherwise.
func Run(ctx context.Context, t Transmitter, cmd Command) ([]byte, error) {
	return Exchanger{}.Run(ctx, t, cmd)
}

// Run is the package's Run with x's settings.
func (x Exchanger) Run(ctx context.Context, t Transmitter, cmd Command) ([]byte, error) {
	resp, err := x.Exchange(ctx, t, cmd)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return resp.Data, nil
}

// transmitExact sends cmd and, when the card answers 6Cxx, sends it once
// more with Le=xx, after x.ResendDelay. A 6Cxx answer to a command that
// already carries that Le, or to the retry, is a protocol error: retrying
// again could loop forever.
func (x Exchanger) transmitExact(ctx context.Context, t Transmitter, cmd Command) (Response, error) {
	resp, err := transmit(ctx, t, cmd)
	if err != nil {
		return Response{}, err
	}
	le, ok := resp.SW.ExactLength()
	if !ok {
		return resp, nil
	}
	if le == cmd.Le {
		return Response{}, fmt.Errorf("%w: %s answered %s to its own exact length", ErrProtocol, cmd, resp.SW)
	}
	cmd.Le = le
	if err := pause(ctx, x.ResendDelay); err != nil {
		return Response{}, err
	}
	if resp, err = transmit(ctx, t, cmd); err != nil {
		return Response{}, err
	}
	if _, again := resp.SW.ExactLength(); again {
		return Response{}, fmt.Errorf("%w: %s answered %s to the retry with the exact length", ErrProtocol, cmd, resp.SW)
	}
	return resp, nil
}

func transmit(ctx context.Context, t Transmitter, cmd Command) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	b, err := cmd.Bytes()
	if err != nil {
		return Response{}, err
	}
	raw, err := t.Transmit(ctx, b)
	if err != nil {
		return Response{}, err
	}
	return ParseResponse(raw)
}

// pause waits d, or less when ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
