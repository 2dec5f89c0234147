package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/rig"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/ebfe/scard"
)

// The Belgian eID applet 1.7 ATR: any valid ATR would do.
var testATR = []byte{0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11}

// pullINS is an instruction the test card answers by vanishing, as a card
// pulled out in the middle of a command would.
const pullINS = 0xEE

// echoCard answers SELECT (00 A4) with 90 00 and any other command with the
// command itself followed by 90 00.
type echoCard struct {
	mu     sync.Mutex
	resets int
}

func (c *echoCard) ATR() []byte { return testATR }

func (c *echoCard) Reset() {
	c.mu.Lock()
	c.resets++
	c.mu.Unlock()
}

func (c *echoCard) resetCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

func (c *echoCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	switch {
	case len(cmd) >= 2 && cmd[1] == 0xA4:
		return []byte{0x90, 0x00}, nil
	case len(cmd) >= 2 && cmd[1] == pullINS:
		return nil, errors.New("pulled mid-command")
	}
	return append(bytes.Clone(cmd), 0x90, 0x00), nil
}

var selectMF = []byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}

func establish(t testing.TB) *pcsc.Context {
	t.Helper()
	pc, err := pcsc.Establish(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func connect(t testing.TB, pc *pcsc.Context) *pcsc.Card {
	t.Helper()
	card, err := pc.Connect(t.Context(), rig.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { card.Close() })
	return card
}

func readerState(t testing.TB, states []pcsc.ReaderState) pcsc.ReaderState {
	t.Helper()
	i := slices.IndexFunc(states, func(s pcsc.ReaderState) bool { return s.Name == rig.Reader })
	if i < 0 {
		t.Fatalf("%q not among readers %v", rig.Reader, states)
	}
	return states[i]
}

func TestReadersShowsCard(t *testing.T) {
	rig.Insert(t, &echoCard{})
	pc := establish(t)
	states, err := pc.Readers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := readerState(t, states)
	if !st.CardPresent || !bytes.Equal(st.ATR, testATR) {
		t.Fatalf("reader state = %+v, want card present with ATR % X", st, testATR)
	}
	if st.Unavailable || st.Mute || st.Exclusive {
		t.Errorf("reader state = %+v, want a plain available card", st)
	}
}

// waitChange runs WaitChange in the background so the test goroutine can
// move the card meanwhile.
func waitChange(ctx context.Context, pc *pcsc.Context, known []pcsc.ReaderState) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		states, err := pc.WaitChange(ctx, known)
		ch <- waitResult{states, err}
	}()
	return ch
}

type waitResult struct {
	states []pcsc.ReaderState
	err    error
}

func TestWaitChangeSeesRemovalAndInsertion(t *testing.T) {
	slot := rig.Insert(t, &echoCard{})
	pc := establish(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	before, err := pc.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ch := waitChange(ctx, pc, before)
	slot.Remove()
	r := <-ch
	if r.err != nil {
		t.Fatalf("WaitChange across removal: %v", r.err)
	}
	if st := readerState(t, r.states); st.CardPresent || st.ATR != nil {
		t.Fatalf("after removal: %+v, want no card", st)
	}

	ch = waitChange(ctx, pc, r.states)
	slot.Reinsert()
	r2 := <-ch
	if r2.err != nil {
		t.Fatalf("WaitChange across insertion: %v", r2.err)
	}
	st := readerState(t, r2.states)
	if !st.CardPresent || !bytes.Equal(st.ATR, testATR) {
		t.Fatalf("after insertion: %+v, want the card", st)
	}
	if old := readerState(t, before); st.EventCount == old.EventCount {
		t.Errorf("event count unchanged (%d) across remove+insert", st.EventCount)
	}
}

func TestWaitReader(t *testing.T) {
	slot := rig.Insert(t, &echoCard{})
	pc := establish(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// Already true: returns at once with the state.
	st, err := pc.WaitReader(ctx, rig.Reader, func(st pcsc.ReaderState) bool { return st.CardPresent })
	if err != nil || !bytes.Equal(st.ATR, testATR) {
		t.Fatalf("WaitReader(card present) = %+v, %v", st, err)
	}
	// True only after a change: waits for it.
	done := make(chan error, 1)
	go func() {
		_, err := pc.WaitReader(ctx, rig.Reader, func(st pcsc.ReaderState) bool { return !st.CardPresent })
		done <- err
	}()
	slot.Remove()
	if err := <-done; err != nil {
		t.Fatalf("WaitReader(empty) across removal: %v", err)
	}
	// No such reader: a typed error, not a wait.
	if _, err := pc.WaitReader(ctx, "No Such Reader 00 00", func(pcsc.ReaderState) bool { return true }); !errors.Is(err, pcsc.ErrReaderUnavailable) {
		t.Errorf("WaitReader(unknown reader) = %v, want ErrReaderUnavailable", err)
	}
	// Never true: ends with ctx.
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := pc.WaitReader(short, rig.Reader, func(pcsc.ReaderState) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReader(never) = %v, want the deadline", err)
	}
}

func TestWaitChangeStaysAsleep(t *testing.T) {
	rig.Insert(t, &echoCard{})
	pc := establish(t)
	states, err := pc.Readers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Long enough for several vpcd presence polls and for pcscd to power
	// the idle card down: none of that is a change callers care about.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	got, err := pc.WaitChange(ctx, states)
	if err == nil {
		t.Fatalf("WaitChange woke without a change:\nbefore %+v\nafter  %+v", states, got)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, pcsc.ErrTimeout) {
		t.Fatalf("WaitChange = %v, want a deadline error", err)
	}
}

func TestWaitChangeCancel(t *testing.T) {
	rig.Require(t)
	pc := establish(t)
	states, err := pc.Readers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Cancel at various moments, including before the wait has reached
	// pcscd, where a single SCardCancel would be lost.
	for _, delay := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 100 * time.Millisecond} {
		ctx, cancel := context.WithCancel(t.Context())
		ch := waitChange(ctx, pc, states)
		time.Sleep(delay)
		start := time.Now()
		cancel()
		select {
		case r := <-ch:
			if !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, pcsc.ErrCancelled) {
				t.Errorf("delay %v: WaitChange = %v, want context.Canceled and ErrCancelled", delay, r.err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("delay %v: WaitChange took %v to return after cancel", delay, d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("delay %v: WaitChange did not return after cancel", delay)
		}
	}
}

func TestCloseWakesWaitChange(t *testing.T) {
	rig.Require(t)
	pc, err := pcsc.Establish(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	states, err := pc.Readers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ch := waitChange(t.Context(), pc, states)
	time.Sleep(50 * time.Millisecond)
	pc.Close()
	select {
	case r := <-ch:
		if !errors.Is(r.err, pcsc.ErrClosed) {
			t.Fatalf("WaitChange after Close = %v, want ErrClosed", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake WaitChange")
	}
	if _, err := pc.Readers(t.Context()); !errors.Is(err, pcsc.ErrClosed) {
		t.Fatalf("Readers after Close = %v, want ErrClosed", err)
	}
}

func TestConnectTransmit(t *testing.T) {
	rig.Insert(t, &echoCard{})
	card := connect(t, establish(t))
	if !bytes.Equal(card.ATR(), testATR) {
		t.Errorf("ATR = % X, want % X", card.ATR(), testATR)
	}
	tests := []struct {
		name     string
		cmd, rsp []byte
	}{
		{"select", selectMF, []byte{0x90, 0x00}},
		{"case 1", []byte{0x00, 0x20, 0x00, 0x01}, []byte{0x00, 0x20, 0x00, 0x01, 0x90, 0x00}},
		{"case 3", []byte{0x00, 0x22, 0x41, 0xB6, 0x02, 0x80, 0x01}, []byte{0x00, 0x22, 0x41, 0xB6, 0x02, 0x80, 0x01, 0x90, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rsp, err := card.Transmit(t.Context(), tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rsp, tt.rsp) {
				t.Fatalf("Transmit(% X) = % X, want % X", tt.cmd, rsp, tt.rsp)
			}
		})
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := card.Transmit(ctx, selectMF); !errors.Is(err, context.Canceled) {
		t.Fatalf("Transmit with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestConnectErrors(t *testing.T) {
	slot := rig.Insert(t, &echoCard{})
	pc := establish(t)
	if _, err := pc.Connect(t.Context(), "No Such Reader 00 00"); !errors.Is(err, pcsc.ErrReaderUnavailable) {
		t.Errorf("Connect to unknown reader = %v, want ErrReaderUnavailable", err)
	}
	slot.Remove()
	_, err := pc.Connect(t.Context(), rig.Reader)
	if !errors.Is(err, pcsc.ErrNoCard) {
		t.Errorf("Connect to empty reader = %v, want ErrNoCard", err)
	}
	var perr *pcsc.Error
	if !errors.As(err, &perr) || perr.Code != scard.ErrNoSmartcard {
		t.Errorf("Connect to empty reader = %#v, want *pcsc.Error with SCARD_E_NO_SMARTCARD", err)
	}
}

func TestTransaction(t *testing.T) {
	rig.Insert(t, &echoCard{})
	pc := establish(t)
	a, b := connect(t, pc), connect(t, pc)

	if err := a.Begin(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Transmit(t.Context(), selectMF); err != nil {
		t.Fatalf("Transmit inside transaction: %v", err)
	}
	// b must wait for a's transaction, and give up with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	start := time.Now()
	err := b.Begin(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, pcsc.ErrTimeout) {
		t.Fatalf("Begin while another transaction is open = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Begin took %v to give up", d)
	}
	if err := a.End(); err != nil {
		t.Fatalf("End: %v", err)
	}

	// b's abandoned Begin is granted now and must hand the transaction
	// straight back, so a third connection can get it.
	c := connect(t, pc)
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Begin(ctx); err != nil {
		t.Fatalf("Begin after the others ended: %v", err)
	}
	if _, err := c.Transmit(ctx, selectMF); err != nil {
		t.Fatal(err)
	}
	if err := c.End(); err != nil {
		t.Fatal(err)
	}
	// And b itself is usable again.
	if err := b.Begin(ctx); err != nil {
		t.Fatalf("b.Begin after its abandoned one: %v", err)
	}
	if err := b.End(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseAbortsBegin(t *testing.T) {
	rig.Insert(t, &echoCard{})
	pc := establish(t)
	a, b := connect(t, pc), connect(t, pc)
	if err := a.Begin(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer a.End()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := b.Begin(ctx); err == nil {
		t.Fatal("Begin succeeded while another transaction was open")
	}
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung behind an abandoned Begin")
	}
	if _, err := b.Transmit(t.Context(), selectMF); !errors.Is(err, pcsc.ErrClosed) {
		t.Fatalf("Transmit after Close = %v, want ErrClosed", err)
	}
}

func TestCardRemovedThenReinserted(t *testing.T) {
	slot := rig.Insert(t, &echoCard{})
	pc := establish(t)
	card := connect(t, pc)
	if _, err := card.Transmit(t.Context(), selectMF); err != nil {
		t.Fatal(err)
	}
	slot.Remove()
	if _, err := card.Transmit(t.Context(), selectMF); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("Transmit after removal = %v, want ErrCardRemoved", err)
	}
	slot.Reinsert()
	// The old handle stays dead: it was for the card that left.
	if _, err := card.Transmit(t.Context(), selectMF); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("Transmit on old handle after reinsertion = %v, want ErrCardRemoved", err)
	}
	if err := card.Close(); err != nil {
		t.Fatalf("Close after removal: %v", err)
	}
	card2 := connect(t, pc)
	if rsp, err := card2.Transmit(t.Context(), selectMF); err != nil || !bytes.Equal(rsp, []byte{0x90, 0x00}) {
		t.Fatalf("Transmit on new connection = % X, %v", rsp, err)
	}
}

func TestCardPulledMidCommand(t *testing.T) {
	slot := rig.Insert(t, &echoCard{})
	pc := establish(t)
	card := connect(t, pc)
	_, err := card.Transmit(t.Context(), []byte{0x00, pullINS, 0x00, 0x00})
	if !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("Transmit when the card vanishes mid-command = %v, want ErrCardRemoved", err)
	}
	slot.Reinsert()
	if _, err := connect(t, pc).Transmit(t.Context(), selectMF); err != nil {
		t.Fatalf("Transmit after reinsertion: %v", err)
	}
}

func TestReconnectAfterReset(t *testing.T) {
	ec := &echoCard{}
	rig.Insert(t, ec)
	card := connect(t, establish(t))
	if _, err := card.Transmit(t.Context(), selectMF); err != nil {
		t.Fatal(err)
	}

	// Another application resets the card.
	sc, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Release()
	other, err := sc.Connect(rig.Reader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	resets := ec.resetCount()
	if err := other.Disconnect(scard.ResetCard); err != nil {
		t.Fatal(err)
	}
	if ec.resetCount() == resets {
		t.Error("the card did not see a reset")
	}

	if _, err := card.Transmit(t.Context(), selectMF); !errors.Is(err, pcsc.ErrCardReset) {
		t.Fatalf("Transmit after another application's reset = %v, want ErrCardReset", err)
	}
	if err := card.Reconnect(t.Context()); err != nil {
		t.Fatalf("Reconnect: %v", err)
	}
	if _, err := card.Transmit(t.Context(), selectMF); err != nil {
		t.Fatalf("Transmit after Reconnect: %v", err)
	}
	if !bytes.Equal(card.ATR(), testATR) {
		t.Errorf("ATR after Reconnect = % X", card.ATR())
	}
}

func TestNoPinpadOnVirtualReader(t *testing.T) {
	rig.Insert(t, &echoCard{})
	card := connect(t, establish(t))
	f, err := card.Features(t.Context())
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	if len(f) != 0 {
		t.Errorf("Features = %v, want none from vpcd", f)
	}
	if card.HasPinpad(t.Context()) {
		t.Error("HasPinpad = true on vpcd")
	}
	if _, err := card.VerifyPINDirect(t.Context(), []byte{0}); !errors.Is(err, pcsc.ErrNotSupported) {
		t.Errorf("VerifyPINDirect = %v, want ErrNotSupported", err)
	}
}

// BenchmarkTransmit measures an APDU round trip through the whole stack.
// Without TCP_QUICKACK on the card's socket (pcsc/vpcd) it is ~44 ms; it
// should be well under a millisecond. Besides ns/op (the mean) it reports
// the median and the 99th percentile.
func BenchmarkTransmit(b *testing.B) {
	rig.Insert(b, &echoCard{})
	card := connect(b, establish(b))
	cmd := []byte{0x00, 0xB0, 0x00, 0x00, 0x10}
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := card.Transmit(b.Context(), cmd); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "median-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// TestServiceRestart stops and restarts pcscd under a live Context and Card.
// Other test processes would see the service vanish, so it runs only when
// asked to (scripts/test.sh does, in a step of its own).
func TestServiceRestart(t *testing.T) {
	if os.Getenv("CARDBRIDGE_RIG_RESTART") != "1" {
		t.Skip("set CARDBRIDGE_RIG_RESTART=1 to let this test restart pcscd")
	}
	slot := rig.Insert(t, &echoCard{}) // also keeps other rig users out
	pc := establish(t)
	card := connect(t, pc)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	states, err := pc.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiting := waitChange(ctx, pc, states)

	rigScript(t, "stop")
	if r := <-waiting; !errors.Is(r.err, pcsc.ErrNoService) {
		t.Errorf("WaitChange in progress when pcscd stopped = %v, want ErrNoService", r.err)
	}
	if _, err := pc.Readers(ctx); !errors.Is(err, pcsc.ErrNoService) {
		t.Errorf("Readers without pcscd = %v, want ErrNoService", err)
	}
	if _, err := pc.WaitChange(ctx, states); !errors.Is(err, pcsc.ErrNoService) {
		t.Errorf("WaitChange without pcscd = %v, want ErrNoService", err)
	}
	if _, err := pc.Connect(ctx, rig.Reader); !errors.Is(err, pcsc.ErrNoService) {
		t.Errorf("Connect without pcscd = %v, want ErrNoService", err)
	}
	if _, err := card.Transmit(ctx, selectMF); !errors.Is(err, pcsc.ErrNoService) {
		t.Errorf("Transmit without pcscd = %v, want ErrNoService", err)
	}
	if _, err := pcsc.Establish(ctx); !errors.Is(err, pcsc.ErrNoService) {
		t.Errorf("Establish without pcscd = %v, want ErrNoService", err)
	}

	rigScript(t, "start")
	// The same Context works again without being re-established by hand.
	states, err = pc.Readers(ctx)
	if err != nil {
		t.Fatalf("Readers after pcscd came back: %v", err)
	}
	readerState(t, states)
	if err := card.Close(); err != nil {
		t.Errorf("closing a Card from before the restart: %v", err)
	}
	// The card's connection to vpcd died with pcscd; put it back.
	slot.Remove()
	slot.Reinsert()
	card = connect(t, pc)
	if _, err := card.Transmit(ctx, selectMF); err != nil {
		t.Fatalf("Transmit after restart: %v", err)
	}
}

// rigScript runs scripts/rig.sh (tests run in the package directory).
func rigScript(t *testing.T, arg string) {
	t.Helper()
	out, err := exec.Command("../scripts/rig.sh", arg).CombinedOutput()
	if err != nil {
		t.Fatalf("rig.sh %s: %v\n%s", arg, err, out)
	}
	if arg == "stop" && !strings.Contains(string(out), "pcscd stopped") {
		t.Skipf("rig.sh did not start this pcscd, so it will not stop it: %s", out)
	}
}

func TestConnectWhileHeldExclusively(t *testing.T) {
	rig.Insert(t, &echoCard{})
	pc := establish(t)
	sc, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Release()
	other, err := sc.Connect(rig.Reader, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	states, err := pc.Readers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st := readerState(t, states); !st.Exclusive {
		t.Errorf("reader state = %+v, want Exclusive", st)
	}

	if _, err = pc.Connect(t.Context(), rig.Reader); !errors.Is(err, pcsc.ErrSharingViolation) {
		t.Fatalf("Connect while held exclusively = %v, want ErrSharingViolation", err)
	}

	if err := other.Disconnect(scard.LeaveCard); err != nil {
		t.Fatal(err)
	}
	card := connect(t, pc)
	if _, err := card.Transmit(t.Context(), selectMF); err != nil {
		t.Fatal(err)
	}
}
