// Command traydemo shows cardbridge's tray icon without the daemon, for
// the desktop tests (tray/xtest.sh) and for looking at the icons:
//
//	go run ./tray/internal/traydemo -state card -allow https://a.example
//
// -cycle steps through every state, one per second.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/config"
	"github.com/cardbridge/cardbridge/tray"
)

func main() {
	state := flag.String("state", "card", "state to show: starting, noservice, noreader, nocard, card, busy")
	allow := flag.String("allow", "", "comma-separated origins to list as allowed")
	lang := flag.String("lang", "en", "language")
	cycle := flag.Bool("cycle", false, "cycle through all states")
	addLater := flag.String("add-later", "", "origin to allow 2 s after start, as a consent prompt would")
	block := flag.String("block", "", "comma-separated sites to list as blocked")
	activity := flag.String("activity", "", "origin to show in the recent activity, as having read the identity and signed")
	flag.Parse()

	var st tray.State = -1
	for s := tray.StateStarting; s <= tray.StateBusy; s++ {
		if s.String() == *state {
			st = s
		}
	}
	if st < 0 {
		log.Fatalf("unknown state %q", *state)
	}
	dir, err := os.MkdirTemp("", "traydemo")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, _ := config.Open(filepath.Join(dir, config.FileName), config.StoreOptions{})
	for _, o := range strings.Split(*allow, ",") {
		if o != "" {
			if err := store.Allow(o); err != nil {
				log.Fatal(err)
			}
		}
	}

	for _, b := range strings.Split(*block, ",") {
		if b != "" {
			if err := store.Block(b); err != nil {
				log.Fatal(err)
			}
		}
	}
	acts := tray.NewActivityLog(0)
	if *activity != "" {
		now := time.Now()
		acts.Record(bridge.Activity{Time: now.Add(-2 * time.Minute), Origin: *activity, Action: bridge.ActionIdentity})
		acts.Record(bridge.Activity{Time: now, Origin: *activity, Action: bridge.ActionSign})
	}

	if *addLater != "" {
		go func() {
			time.Sleep(2 * time.Second)
			if err := store.Allow(*addLater); err != nil {
				log.Print(err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	states := make(chan tray.State, 1)
	states <- st
	if *cycle {
		go func() {
			for s := tray.StateStarting; ctx.Err() == nil; s = (s + 1) % (tray.StateBusy + 1) {
				select {
				case states <- s:
				case <-ctx.Done():
				}
				time.Sleep(time.Second)
			}
		}()
	}
	err = tray.Run(ctx, tray.Options{
		Version: "0.1.0-demo", Port: 27183, Language: *lang, Consents: store,
		Blocked: blocker{store}, Activity: acts,
		LogPath: filepath.Join(dir, "cardbridge.log"), States: states, OnQuit: stop,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// blocker is the tray's Blocker over the config store, as the daemon's
// core is over its consent store.
type blocker struct{ s *config.Store }

func (b blocker) BlockedSites() []string        { return b.s.BlockedSites() }
func (b blocker) UnblockSite(site string) error { return b.s.Unblock(site) }
