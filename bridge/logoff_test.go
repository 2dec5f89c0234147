package bridge_test

import (
	"context"
	"crypto"
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/simreaders"
)

// noLogOffReaders are simulated readers whose LOG OFF never reaches the
// card, as when the reader fails that one exchange.
type noLogOffReaders struct{ *simreaders.Readers }

func (r noLogOffReaders) Open(ctx context.Context, reader string) (bridge.CardSession, error) {
	s, err := r.Readers.Open(ctx, reader)
	if err != nil {
		return nil, err
	}
	return noLogOffSession{s.(bridge.InsertionSession)}, nil
}

type noLogOffSession struct{ bridge.InsertionSession }

func (s noLogOffSession) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) >= 4 && cmd[1] == 0xE6 {
		return nil, errors.New("reader error")
	}
	return s.InsertionSession.Transmit(ctx, cmd)
}

func (s noLogOffSession) ATR() []byte { return s.InsertionSession.(bridge.ATRSession).ATR() }

func (s noLogOffSession) CloseReset() error {
	return s.InsertionSession.(bridge.ResettingSession).CloseReset()
}

// TestAttackLogOffFails: a PIN verification whose LOG OFF fails must not
// leave the card verified for whoever uses it next (another site, another
// program): the card is reset instead.
func TestAttackLogOffFails(t *testing.T) {
	for _, pr := range profiles {
		t.Run(pr.name, func(t *testing.T) {
			e, _ := newEnv(t, pr.p, preConsented, func(c *bridge.Config) {
				c.Readers = noLogOffReaders{c.Readers.(*simreaders.Readers)}
			})
			c := e.dial(testOrigin)
			e.prompter.EnterPIN(testPIN)
			c.ok("pin.verify", nil, nil)

			// Whoever comes next signs with the authentication key
			// without presenting any PIN.
			sess, err := e.readers.Open(context.Background(), reader0)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			digest := make([]byte, 32)
			_, err = beid.New(sess).Sign(context.Background(), beid.KeyAuthentication, crypto.SHA256, digest,
				func(context.Context) error { return nil })
			if err == nil {
				t.Fatal("the card signed without a PIN after a PIN flow whose LOG OFF failed")
			}
		})
	}
}
