package resilience

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha512"
	"encoding/base64"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/internal/rig"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/pcsc/vpcd"
)

var profiles = []struct {
	name    string
	profile sim.Profile
}{
	{"ecc-1.8", sim.ProfileECC},
	{"rsa-1.7", sim.ProfileRSA},
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	return ctx
}

// subscribe calls readers on c, so that c receives readers events, and
// checks the card is in.
func subscribe(ctx context.Context, t *testing.T, c *client) {
	t.Helper()
	var rl readersResult
	if err := c.callInto(ctx, "readers", nil, &rl); err != nil {
		t.Fatalf("readers: %v", err)
	}
	if !rl.hasCard(rig.Reader) {
		t.Fatalf("readers = %+v, want a Belgian eID in %s", rl, rig.Reader)
	}
}

func wantCode(t *testing.T, what string, err error, want ...bridge.Code) {
	t.Helper()
	if got := codeOf(err); !slices.Contains(want, got) {
		t.Fatalf("%s: got %v, want error code %v", what, err, want)
	}
}

// TestCardPulledMidRead pulls the card in the middle of an identity and of
// a photo read. The page gets CARD_REMOVED, then a readers event without
// the card; once the card is back, the same connection reads it again.
func TestCardPulledMidRead(t *testing.T) {
	for _, p := range profiles {
		for _, tc := range []struct {
			method string
			trap   func() func([]byte) bool
		}{
			// The identity file takes two READ BINARY (6Cxx, then the
			// exact length); the third is in its signature file.
			{"identity", func() func([]byte) bool { return nth(insReadBinary, 3, false) }},
			// The photo, about 3 KB, is read first, in 256-byte chunks.
			{"photo", func() func([]byte) bool { return nth(insReadBinary, 6, false) }},
		} {
			t.Run(p.name+"/"+tc.method, func(t *testing.T) {
				s := newStack(t, stackOptions{profile: p.profile})
				ctx := testContext(t)
				c := s.dial(testOrigin)
				defer c.close()
				subscribe(ctx, t, c)

				s.fc.pullAt(tc.trap())
				_, err := c.call(ctx, tc.method, nil)
				wantCode(t, tc.method+" with the card pulled", err, bridge.CodeCardRemoved)
				if !s.card.Pulled() {
					t.Fatalf("the trap did not fire: the read finished before the pull")
				}
				if _, err := c.readersEvent(ctx, func(r readersResult) bool { return r.empty(rig.Reader) }); err != nil {
					t.Fatalf("no readers event for the removal: %v", err)
				}
				// The page retries at once, before reinserting: a
				// typed answer, not a hang.
				_, err = c.call(ctx, tc.method, nil)
				wantCode(t, tc.method+" without a card", err, bridge.CodeNoCard)

				s.reinsert()
				if _, err := c.readersEvent(ctx, func(r readersResult) bool { return r.hasCard(rig.Reader) }); err != nil {
					t.Fatalf("no readers event for the reinsertion: %v", err)
				}
				if _, err := c.call(ctx, tc.method, nil); err != nil {
					t.Fatalf("%s on the same connection after reinsertion: %v", tc.method, err)
				}
				s.checkTries(beid.MaxPINTries)
				s.checkServing()
			})
		}
	}
}

// TestPINVerifyPulled pulls the card during pin.verify: at the VERIFY
// command itself, between the dialog and the VERIFY, and swaps it for
// another card while the PIN dialog is open. The page gets CARD_REMOVED
// (or NO_CARD); no PIN try is spent on either card.
func TestPINVerifyPulled(t *testing.T) {
	for _, tc := range []struct {
		name string
		// atDialog runs while the PIN dialog is open.
		atDialog func(t *testing.T, s *stack)
		want     []bridge.Code
	}{
		{"at VERIFY", func(t *testing.T, s *stack) {
			s.fc.pullAt(nth(insVerify, 1, true))
		}, []bridge.Code{bridge.CodeCardRemoved}},
		{"before VERIFY", func(t *testing.T, s *stack) {
			// The first command after the dialog checks the card is
			// the one the user was asked about.
			s.fc.pullAt(func([]byte) bool { return true })
		}, []bridge.Code{bridge.CodeCardRemoved}},
		{"removed during the dialog", func(t *testing.T, s *stack) {
			s.slot.Remove()
		}, []bridge.Code{bridge.CodeNoCard, bridge.CodeCardRemoved}},
		{"swapped during the dialog", func(t *testing.T, s *stack) {
			s.slot.Remove()
			other, err := sim.New(sim.Options{Profile: sim.ProfileECC, PIN: testPIN})
			if err != nil {
				t.Error(err)
				return
			}
			in := insertOther(t, other)
			t.Cleanup(func() {
				if got := other.TriesLeft(); got != beid.MaxPINTries {
					t.Errorf("the other card has %d PIN tries left, want %d", got, beid.MaxPINTries)
				}
			})
			s.swapped = in
		}, []bridge.Code{bridge.CodeCardRemoved}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			ctx := testContext(t)
			c := s.dial(testOrigin)
			defer c.close()

			s.prompter.EnterPIN(testPIN)
			s.prompter.on(bridgetest.PIN, s.whileOpen(t, tc.atDialog))
			_, err := c.call(ctx, "pin.verify", nil)
			s.prompter.on(bridgetest.PIN, nil)
			wantCode(t, "pin.verify", err, tc.want...)
			s.checkTries(beid.MaxPINTries)

			s.restoreCard()
			s.checkServing()
			// And the PIN still verifies: nothing is left half-done.
			s.prompter.EnterPIN(testPIN)
			if _, err := c.call(ctx, "pin.verify", nil); err != nil {
				t.Fatalf("pin.verify after reinsertion: %v", err)
			}
			s.checkTries(beid.MaxPINTries)
		})
	}
}

// insertOther puts another card in the virtual reader (the test holds the
// rig lock through its slot, which it emptied) and waits until pcscd
// reports it.
func insertOther(t *testing.T, card *sim.Card) *vpcd.Insertion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	in, err := vpcd.Insert(context.Background(), rig.Addr, card)
	if err != nil {
		t.Errorf("insert another card: %v", err)
		return nil
	}
	if err := waitReader(ctx, func(st pcsc.ReaderState) bool {
		return st.CardPresent && bytes.Equal(st.ATR, card.ATR())
	}); err != nil {
		in.Remove()
		t.Errorf("other card not reported present: %v", err)
		return nil
	}
	return in
}

// waitReader waits until the virtual reader's state satisfies ok.
func waitReader(ctx context.Context, ok func(pcsc.ReaderState) bool) error {
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		return err
	}
	defer pc.Close()
	_, err = pc.WaitReader(ctx, rig.Reader, ok)
	return err
}

// whileOpen returns a prompter hook that runs f once, when the dialog
// opens, and keeps the dialog open until f is done. f runs on a goroutine
// of its own (the test's is blocked in its call); a t.Fatal in it fails
// the test and ends only that goroutine.
func (s *stack) whileOpen(t *testing.T, f func(*testing.T, *stack)) func(context.Context) {
	start := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		select {
		case <-start:
			f(t, s)
		case <-time.After(2 * wait):
		}
	}()
	return func(ctx context.Context) {
		once.Do(func() { close(start) })
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// restoreCard undoes what a fault left: a swapped-in card is taken out, a
// pulled card is put back.
func (s *stack) restoreCard() {
	s.t.Helper()
	if s.swapped != nil {
		s.swapped.Remove()
		s.swapped = nil
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := waitReader(ctx, func(st pcsc.ReaderState) bool { return !st.CardPresent }); err != nil {
			s.t.Fatalf("other card still present: %v", err)
		}
	}
	s.reinsert()
}

// TestSignPulled pulls the card during sign, at the PIN VERIFY and at the
// signature command after it, on both card generations. The page gets
// CARD_REMOVED and no PIN try is spent; after reinsertion a signature
// verifies.
func TestSignPulled(t *testing.T) {
	for _, p := range profiles {
		for _, at := range []struct {
			name string
			trap func() func([]byte) bool
		}{
			{"VERIFY", func() func([]byte) bool { return nth(insVerify, 1, true) }},
			{"PSO", func() func([]byte) bool { return nth(insPSO, 1, false) }},
		} {
			t.Run(p.name+"/at "+at.name, func(t *testing.T) {
				s := newStack(t, stackOptions{profile: p.profile})
				ctx := testContext(t)
				c := s.dial(testOrigin)
				defer c.close()

				digest := sha512.Sum384([]byte("cardbridge resilience " + t.Name()))
				params := map[string]any{
					"digest":        base64.StdEncoding.EncodeToString(digest[:]),
					"hashAlgorithm": "SHA-384",
					"documentName":  "application.pdf",
				}
				s.prompter.Confirm(bridgetest.ConfirmSignature, true)
				s.prompter.EnterPIN(testPIN)
				s.fc.pullAt(at.trap())
				_, err := c.call(ctx, "sign", params)
				wantCode(t, "sign with the card pulled", err, bridge.CodeCardRemoved)
				if !s.card.Pulled() {
					t.Fatalf("the trap did not fire")
				}
				s.checkTries(beid.MaxPINTries)

				s.reinsert()
				s.checkServing()
				s.prompter.Confirm(bridgetest.ConfirmSignature, true)
				s.prompter.EnterPIN(testPIN)
				var res struct {
					Signature []byte `json:"signature"`
				}
				if err := c.callInto(ctx, "sign", params, &res); err != nil {
					t.Fatalf("sign after reinsertion: %v", err)
				}
				if err := verifySignature(s.card, crypto.SHA384, digest[:], res.Signature); err != nil {
					t.Fatalf("signature after reinsertion: %v", err)
				}
				s.checkTries(beid.MaxPINTries)
			})
		}
	}
}

// TestReaderConnectionLost cuts the virtual reader's connection to the card
// from the reader's side in the middle of a read, as when a reader's USB
// link drops: vpcd loses its card socket and pcscd reports the slot empty.
// (vpcd's readers themselves never leave pcscd's list while it runs; the
// whole list going away is TestServiceRestart.) The page gets CARD_REMOVED
// and a readers event, and when the connection comes back the same page
// reads the card without any restart.
func TestReaderConnectionLost(t *testing.T) {
	s := newStack(t, stackOptions{latency: 2 * time.Millisecond})
	ctx := testContext(t)
	c := s.dial(testOrigin)
	defer c.close()
	subscribe(ctx, t, c)

	// Serve the card ourselves, to hold the connection we will cut. The
	// slot keeps the rig lock.
	s.slot.Remove()
	if _, err := c.readersEvent(ctx, func(r readersResult) bool { return r.empty(rig.Reader) }); err != nil {
		t.Fatal(err)
	}
	connect := func() *vpcd.Insertion {
		in, err := vpcd.Insert(context.Background(), rig.Addr, s.fc)
		if err != nil {
			t.Fatalf("vpcd: %v", err)
		}
		t.Cleanup(in.Remove) // before the rig lock is released
		if _, err := c.readersEvent(ctx, func(r readersResult) bool { return r.hasCard(rig.Reader) }); err != nil {
			t.Fatalf("card not back: %v", err)
		}
		return in
	}
	in := connect()

	reached := make(chan struct{})
	s.fc.at(nth(insReadBinary, 4, false), func() { close(reached) })
	_, answer, err := c.send("photo", nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("photo read never reached its fourth READ BINARY")
	}
	in.Remove()
	_, err = c.await(ctx, answer)
	wantCode(t, "photo with the reader connection cut", err, bridge.CodeCardRemoved)
	if _, err := c.readersEvent(ctx, func(r readersResult) bool { return r.empty(rig.Reader) }); err != nil {
		t.Fatalf("no readers event for the lost connection: %v", err)
	}

	connect()
	var ph photoResult
	if err := c.callInto(ctx, "photo", nil, &ph); err != nil {
		t.Fatalf("photo after the connection came back: %v", err)
	}
	if want, _ := s.card.File(beid.FilePhoto); !bytes.Equal(ph.Photo, want) || !ph.Integrity.Valid {
		t.Fatalf("photo after the connection came back: %d bytes, integrity %+v", len(ph.Photo), ph.Integrity)
	}
	s.checkTries(beid.MaxPINTries)
	s.checkServing()
}

// TestTwoPagesOneCard has two pages read the card at the same time, each
// with several requests in flight. The daemon serialises the card work;
// every request is answered, correctly.
func TestTwoPagesOneCard(t *testing.T) {
	s := newStack(t, stackOptions{origins: []string{testOrigin, "https://other.example"}})
	ctx := testContext(t)
	pages := []*client{s.dial(testOrigin), s.dial("https://other.example")}
	wantPhoto, _ := s.card.File(beid.FilePhoto)
	wantNN := s.card.Person().Identity.NationalNumber

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, pg := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				// Pipelined: all of a round's requests are sent before
				// any answer is read (5, within the 8 a page may have
				// pending).
				type pending struct {
					method string
					ch     <-chan frame
				}
				var ps []pending
				for _, m := range []string{"identity", "photo", "address", "card", "certificates"} {
					_, ch, err := pg.send(m, nil)
					if err != nil {
						errs <- err
						return
					}
					ps = append(ps, pending{m, ch})
				}
				for _, p := range ps {
					res, err := pg.await(ctx, p.ch)
					if err != nil {
						errs <- errorf("%s: %w", p.method, err)
						continue
					}
					switch p.method {
					case "identity":
						var id identityResult
						if jsonErr := unmarshal(res, &id); jsonErr != nil || id.Identity.NationalNumber != wantNN || !id.Integrity.Valid {
							errs <- errorf("identity: %s", res)
						}
					case "photo":
						var ph photoResult
						if jsonErr := unmarshal(res, &ph); jsonErr != nil || !bytes.Equal(ph.Photo, wantPhoto) || !ph.Integrity.Valid {
							errs <- errorf("photo: %d bytes, integrity %+v", len(ph.Photo), ph.Integrity)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, pg := range pages {
		pg.close()
	}
	s.checkTries(beid.MaxPINTries)
	s.checkServing()
}

// TestOtherApplicationHoldsCard has another PC/SC application hold a
// transaction on the card while a page reads: the page's request waits for
// it instead of interleaving with it, and is answered once it ends.
func TestOtherApplicationHoldsCard(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := testContext(t)
	c := s.dial(testOrigin)
	defer c.close()

	pc, err := pcsc.Establish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	other, err := pc.Connect(ctx, rig.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	before := s.card.Commands()
	_, answer, err := c.send("identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	const hold = 700 * time.Millisecond
	select {
	case f := <-answer:
		t.Fatalf("identity answered while another application held the card: %+v", f)
	case <-time.After(hold):
	}
	if n := s.card.Commands() - before; n != 0 {
		t.Fatalf("%d commands reached the card during another application's transaction", n)
	}
	if err := other.End(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.await(ctx, answer); err != nil {
		t.Fatalf("identity after the other application let go: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("identity took %v after the other application let go", d)
	}
	s.checkServing()
}

// TestPageDisconnects has a page vanish in the middle of a card read and
// while a PIN dialog is open. The daemon stops the read and releases the
// card, so a second page is served promptly; it closes the dialog (the
// prompter sees its context end); no PIN try is spent.
func TestPageDisconnects(t *testing.T) {
	t.Run("mid-read", func(t *testing.T) {
		// 3 ms per APDU makes a full read last well over 100 ms.
		s := newStack(t, stackOptions{latency: 3 * time.Millisecond})
		ctx := testContext(t)
		first := s.dial(testOrigin)
		reached := make(chan struct{})
		s.fc.at(nth(insReadBinary, 3, false), func() { close(reached) })
		if _, _, err := first.send("photo", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reached:
		case <-ctx.Done():
			t.Fatal("photo read never started")
		}
		first.drop()
		dropped := s.card.Commands()

		second := s.dial(testOrigin)
		defer second.close()
		start := time.Now()
		var id identityResult
		if err := second.callInto(ctx, "identity", nil, &id); err != nil {
			t.Fatalf("second page: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("second page waited %v for the card", d)
		}
		// The abandoned read stopped: far fewer commands than a full
		// photo read (about 15) went to the card after the page left,
		// besides the second page's identity read.
		if n := s.card.Commands() - dropped; n > 40 {
			t.Errorf("%d commands after the page left: the abandoned read went on", n)
		}
		// And the PC/SC transaction is free for other applications.
		checkCardFree(ctx, t)
		s.checkTries(beid.MaxPINTries)
		s.checkServing()
	})

	t.Run("mid-PIN-dialog", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		ctx := testContext(t)
		first := s.dial(testOrigin)
		opened := make(chan struct{})
		s.prompter.Push(bridgetest.PIN, bridgetest.Answer{Block: true})
		s.prompter.on(bridgetest.PIN, func(context.Context) { close(opened) })
		if _, _, err := first.send("pin.verify", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-opened:
		case <-ctx.Done():
			t.Fatal("PIN dialog never opened")
		}
		s.prompter.on(bridgetest.PIN, nil)
		first.drop()
		deadline := time.Now().Add(5 * time.Second)
		for {
			calls := s.prompter.Calls()
			if len(calls) > 0 && calls[len(calls)-1].Kind == bridgetest.PIN && calls[len(calls)-1].Closed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("PIN dialog still open 5 s after its page left: %+v", calls)
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.checkTries(beid.MaxPINTries)

		// The dialog slot is free: another page's PIN dialog opens.
		second := s.dial(testOrigin)
		defer second.close()
		s.prompter.EnterPIN(testPIN)
		if _, err := second.call(ctx, "pin.verify", nil); err != nil {
			t.Fatalf("second page's pin.verify: %v", err)
		}
		checkCardFree(ctx, t)
		s.checkTries(beid.MaxPINTries)
		s.checkServing()
	})
}

// checkCardFree checks that another PC/SC application can take a
// transaction on the card at once.
func checkCardFree(ctx context.Context, t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	card, err := pc.Connect(ctx, rig.Reader)
	if err != nil {
		t.Fatalf("another application cannot connect: %v", err)
	}
	defer card.Close()
	if err := card.Begin(ctx); err != nil {
		t.Fatalf("the daemon still holds the card's transaction: %v", err)
	}
	card.End()
}

// TestCardHangs has the card stop answering in the middle of a read, for
// longer than the request timeout, as a wedged reader would. The page gets
// TIMEOUT at the deadline, although the daemon's PC/SC exchange is still
// waiting for the card; other pages are served meanwhile (version needs no
// card); the next read of the card waits for the hung exchange instead of
// sending commands alongside it, and times out by itself; once the card
// answers, the daemon serves it again.
func TestCardHangs(t *testing.T) {
	const timeout, hang = time.Second, 4 * time.Second
	s := newStack(t, stackOptions{deferStart: true})
	s.start(bridge.Limits{RequestTimeout: timeout})
	ctx := testContext(t)
	c := s.dial(testOrigin)
	defer c.close()

	hung, answered := make(chan struct{}), make(chan struct{})
	s.fc.at(nth(insReadBinary, 3, false), func() {
		close(hung)
		time.Sleep(hang)
		close(answered)
	})
	start := time.Now()
	_, answer, err := c.send("identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	other := s.dial(testOrigin)
	defer other.close()
	vctx, cancel := context.WithTimeout(ctx, timeout)
	if _, err := other.call(vctx, "version", nil); err != nil {
		t.Errorf("version on another page while the card hangs: %v", err)
	}
	cancel()
	_, err = c.await(ctx, answer)
	late := time.Since(start)
	wantCode(t, "identity with the card hanging", err, bridge.CodeTimeout)
	select {
	case <-hung:
	default:
		t.Fatal("the card never hung: the trap did not fire")
	}
	// The answer came at the deadline, not when the card answered: a
	// second of slack for a loaded machine, well short of the hang.
	if late > timeout+time.Second {
		t.Fatalf("TIMEOUT answered after %v, the request timeout is %v: the answer waited for the hung card", late.Round(time.Millisecond), timeout)
	}

	// The card still hangs. A second read waits for it (the daemon's
	// card session still holds the reader) and times out on its own; no
	// command reaches the card in the meantime.
	before := s.card.Commands()
	_, err = c.call(ctx, "identity", nil)
	wantCode(t, "identity behind the hung card", err, bridge.CodeTimeout)
	if time.Since(start) < hang {
		if n := s.card.Commands() - before; n != 0 {
			t.Errorf("%d commands reached the card while its exchange hung", n)
		}
	}
	select {
	case <-answered:
	case <-ctx.Done():
		t.Fatal("the card never answered")
	}
	s.checkTries(beid.MaxPINTries)
	s.checkServing()
}
