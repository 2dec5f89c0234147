package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/pcsc"
)

// readerReport is one line of `cardbridge readers`.
type readerReport struct {
	Name        string `json:"name"`
	CardPresent bool   `json:"cardPresent"`
	ATR         string `json:"atr,omitempty"`
	Card        string `json:"card,omitempty"`   // what the card is, from its ATR and card data
	Applet      string `json:"applet,omitempty"` // BELPIC applet version, e.g. "1.8"
	Serial      string `json:"serial,omitempty"`
	Error       string `json:"error,omitempty"` // why the card could not be identified
}

func runReaders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("readers", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pc, err := pcsc.Establish(ctx)
	if err != nil {
		return explainPCSC(err)
	}
	defer pc.Close()
	states, err := pc.Readers(ctx)
	if err != nil {
		return explainPCSC(err)
	}
	reports := make([]readerReport, 0, len(states))
	for _, st := range states {
		reports = append(reports, describeReader(ctx, pc, st))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	if len(reports) == 0 {
		_, err := fmt.Fprintln(stdout, "No smart card reader found.")
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "READER\tCARD\tAPPLET\tATR")
	for _, r := range reports {
		card := "(empty)"
		if r.CardPresent {
			card = r.Card
			if r.Error != "" {
				card += " (" + r.Error + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, card, dash(r.Applet), dash(r.ATR))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeReader names the card in a reader. The ATR tells the generation;
// applets 1.1 and 1.7 share theirs, so a Belgian card is asked for its card
// data, which costs one APDU and no PIN.
func describeReader(ctx context.Context, pc *pcsc.Context, st pcsc.ReaderState) readerReport {
	r := readerReport{Name: st.Name, CardPresent: st.CardPresent}
	if !st.CardPresent {
		return r
	}
	r.ATR = strings.ToUpper(hex.EncodeToString(st.ATR))
	gen := beid.RecognizeATR(st.ATR)
	r.Card = gen.String()
	if gen == beid.GenerationUnknown {
		return r
	}
	card, err := pc.Connect(ctx, st.Name)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer card.Close()
	data, err := beid.New(card).CardData(ctx)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Applet = fmt.Sprintf("%d.%d", data.AppletVersion>>4, data.AppletVersion&0x0F)
	r.Card = fmt.Sprintf("Belgian eID (applet %s)", r.Applet)
	r.Serial = strings.ToUpper(hex.EncodeToString(data.Serial))
	return r
}

// explainPCSC adds what a user can do about the common PC/SC failures.
func explainPCSC(err error) error {
	switch {
	case errors.Is(err, pcsc.ErrNoService):
		return fmt.Errorf("%w (is pcscd installed and running? On Debian/Ubuntu: sudo apt install pcscd)", err)
	case errors.Is(err, pcsc.ErrNoReaders):
		return fmt.Errorf("%w (connect a reader)", err)
	}
	return err
}
