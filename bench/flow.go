package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge/bridgetest"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
)

// benchFlow measures (g) and (h) on the registration flow a portal runs:
// readers, identity, address, photo, certificates, authenticate, sign.
//
// (g) counts the APDUs the daemon sends for the whole flow, on a card it
// has not seen, against the floor: GET CARD DATA once, each file read once
// in the fewest READ BINARY (beid.MinReadAPDUs, MinCertificateReadAPDUs),
// the basic key challenge on applet 1.8, and for each of the two
// signatures the PIN tries left, SELECT DF(BELPIC), MSE SET, VERIFY, PSO,
// GET RESPONSE and LOG OFF.
//
// (h) runs the flow on the simulated card in real-timing mode (sim.Timing:
// the T=0 wire time at the ATR's speed, per-command and signature times,
// the recovery after 6Cxx) and divides the flow's time, first request to
// last answer, by the time the card itself spent (sim.Card.CardTime). A
// fresh daemon each round, so that its card cache starts empty.
func benchFlow(ctx context.Context, o options, cs *cardSlot, r *report) error {
	if o.measures("g") {
		d, err := startServer(unlimited(), &benchReaders{Readers: pcscreaders.New(), pause: simPause})
		if err != nil {
			return err
		}
		before := cs.card.Commands()
		wall, err := runFlow(ctx, d)
		d.stop()
		if err != nil {
			return err
		}
		got := cs.card.Commands() - before
		floor, err := minFlowAPDUs(cs.card)
		if err != nil {
			return err
		}
		r.figure("(g) APDUs of the registration flow", fmt.Sprintf("= %d (floor)", floor), fmt.Sprint(got), got == floor)
		r.note("readers, identity, address, photo, certificates, authenticate, sign on a card the daemon has not seen; floor: each file once in the fewest chunks, GET CARD DATA once, the basic key challenge (1.8), 7 commands per signature")
		r.note("the flow took %s on the plain simulator, which answers at once: the host's part (daemon, pcscd, vpcd) with a card that takes no time", ms(wall))
	}
	if !o.measures("h") {
		return nil
	}
	tm := sim.RealTiming(cs.card.Profile())
	timed, err := sim.New(sim.Options{Profile: cs.card.Profile(), PIN: "1234", PKI: cs.card.PKI(),
		Timing: &tm, MuteOnEarlyResend: tm.ResendRecovery})
	if err != nil {
		return err
	}
	if err := cs.replace(ctx, timed); err != nil {
		return err
	}
	rounds := 3
	if o.short {
		rounds = 1
	}
	var ratios []float64
	var walls, cards []time.Duration
	for range rounds {
		// The daemon as it runs on real readers: the driver's own pause
		// after 6Cxx, which the timed card needs.
		d, err := startServer(unlimited(), &benchReaders{Readers: pcscreaders.New()})
		if err != nil {
			return err
		}
		before := timed.CardTime()
		wall, err := runFlow(ctx, d)
		d.stop()
		if err != nil {
			return fmt.Errorf("on the real-timed card: %w", err)
		}
		card := timed.CardTime() - before
		walls, cards = append(walls, wall), append(cards, card)
		ratios = append(ratios, float64(wall)/float64(card))
	}
	i := slices.Index(ratios, medianFloat(ratios))
	r.figure("(h) registration flow, real-timed card: flow time / card time", "≤ 1.02",
		fmt.Sprintf("%.4f (%s / %s)", ratios[i], ms(walls[i]), ms(cards[i])), ratios[i] <= 1.02)
	r.note("median of %d rounds, a fresh daemon each; card time = T=0 wire time at the ATR's TA1 speed (4 MHz clock) + per-command, PIN and signature estimates + %s recovery per 6Cxx (sim.RealTiming)", rounds, tm.ResendRecovery)
	return cs.replace(ctx, cs.card)
}

// runFlow runs the registration flow through a fresh page connection and
// returns its time, first request to last answer.
func runFlow(ctx context.Context, d *inProcessDaemon) (time.Duration, error) {
	c, err := dial(ctx, d.url, benchOrigin)
	if err != nil {
		return 0, err
	}
	defer c.close()
	digest := sha256.Sum256([]byte("registration form"))
	start := time.Now()
	for _, step := range []struct {
		method string
		params any
		script func()
	}{
		{"readers", nil, nil},
		{"identity", nil, nil},
		{"address", nil, nil},
		{"photo", nil, nil},
		{"certificates", nil, nil},
		{"authenticate", map[string]string{"challengeNonce": strings.Repeat("n", 44)}, func() { d.prompter.EnterPIN("1234") }},
		{"sign", map[string]string{"digest": base64.StdEncoding.EncodeToString(digest[:]), "hashAlgorithm": "SHA-256"}, func() {
			d.prompter.Confirm(bridgetest.ConfirmSignature, true)
			d.prompter.EnterPIN("1234")
		}},
	} {
		if step.script != nil {
			step.script()
		}
		if _, err := c.callWith(step.method, step.params); err != nil {
			return 0, fmt.Errorf("%s: %w", step.method, err)
		}
	}
	return time.Since(start), nil
}

// minFlowAPDUs is the floor of (g) for card: a complete read (GET CARD
// DATA, every file in the fewest chunks, the basic key challenge on 1.8),
// then for authenticate and sign each the PIN tries left, SELECT
// DF(BELPIC), MSE SET, VERIFY, PSO, GET RESPONSE and LOG OFF.
func minFlowAPDUs(card *sim.Card) (int, error) {
	n, err := minReadAllAPDUs(card)
	return n + 2*7, err
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
