package resilience

// TEMPORARY: a minimal PC/SC Readers adapter, used until bridge/pcscreaders
// lands; the tests then use that package instead.

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/pcsc"
)

type pcscReaders struct{ pc *pcsc.Context }

func newPCSCReaders(ctx context.Context) (bridge.Readers, func(), error) {
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	return &pcscReaders{pc: pc}, func() { pc.Close() }, nil
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pcsc.ErrNoService):
		return fmt.Errorf("%w: %w", bridge.ErrNoService, err)
	case errors.Is(err, pcsc.ErrCardRemoved):
		return fmt.Errorf("%w: %w", bridge.ErrCardRemoved, err)
	case errors.Is(err, pcsc.ErrNoCard):
		return fmt.Errorf("%w: %w", bridge.ErrNoCard, err)
	case errors.Is(err, pcsc.ErrReaderUnavailable):
		return fmt.Errorf("%w: %w", bridge.ErrNoReader, err)
	case errors.Is(err, pcsc.ErrSharingViolation):
		return fmt.Errorf("%w: %w", bridge.ErrReaderBusy, err)
	}
	return err
}

func infos(states []pcsc.ReaderState) []bridge.ReaderInfo {
	out := make([]bridge.ReaderInfo, 0, len(states))
	for _, s := range states {
		out = append(out, bridge.ReaderInfo{Name: s.Name, CardPresent: s.CardPresent, ATR: s.ATR})
	}
	return out
}

func (r *pcscReaders) List(ctx context.Context) ([]bridge.ReaderInfo, error) {
	st, err := r.pc.Readers(ctx)
	return infos(st), mapErr(err)
}

func (r *pcscReaders) Watch(ctx context.Context, known []bridge.ReaderInfo) ([]bridge.ReaderInfo, error) {
	st, err := r.pc.Readers(ctx)
	for {
		if err != nil {
			return nil, mapErr(err)
		}
		if l := infos(st); !bridge.EqualReaders(l, known) {
			return l, nil
		}
		st, err = r.pc.WaitChange(ctx, st)
	}
}

type session struct{ c *pcsc.Card }

func (r *pcscReaders) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	c, err := r.pc.Connect(ctx, reader)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := c.Begin(ctx); err != nil {
		c.Close()
		return nil, mapErr(err)
	}
	return &session{c}, nil
}

func (s *session) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	b, err := s.c.Transmit(ctx, cmd)
	return b, mapErr(err)
}
func (s *session) Pinpad() beid.Pinpad { return nil }
func (s *session) Close() error {
	s.c.End()
	return s.c.Close()
}
