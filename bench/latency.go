package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// benchReadersLatency measures (c): "readers" latency with 1, 10 and 100
// pages calling it at once, each as fast as it gets answers. It runs the
// daemon's server in process with the real PC/SC readers and without the
// per-page rate limit: the shipped daemon admits at most 32 connections
// (8 per origin) and 20 requests per second per page, so 100 concurrent
// pages hammering it would measure refusals, not latency.
func benchReadersLatency(ctx context.Context, o options, r *report) error {
	d, err := startInProcess(unlimited())
	if err != nil {
		return err
	}
	defer d.stop()
	perClient := 2000
	if o.short {
		perClient = 300
	}
	for _, tc := range []struct {
		clients  int
		p50, p99 time.Duration
	}{
		{1, 2 * time.Millisecond, 5 * time.Millisecond},
		{10, 10 * time.Millisecond, 25 * time.Millisecond},
		{100, 100 * time.Millisecond, 250 * time.Millisecond},
	} {
		// Fewer calls per client as clients grow: the total stays bounded.
		calls := max(20, perClient/tc.clients*2)
		lat, err := readersLatency(ctx, d.url, tc.clients, calls)
		if err != nil {
			return err
		}
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		r.figure(fmt.Sprintf("(c) readers latency p50 / p99, %d concurrent page(s)", tc.clients),
			fmt.Sprintf("≤ %s / %s", short(tc.p50), short(tc.p99)),
			fmt.Sprintf("%s / %s", ms(p50), ms(p99)), p50 <= tc.p50 && p99 <= tc.p99)
	}
	r.note("in-process server, real PC/SC readers, no rate limit; %d calls in all per row at most", 2*perClient)
	return nil
}

// readersLatency connects clients pages, then has each call readers calls
// times in a loop, all at once, and returns every call's latency.
func readersLatency(ctx context.Context, url string, clients, calls int) ([]time.Duration, error) {
	cs := make([]*wsClient, clients)
	for i := range cs {
		c, err := dial(ctx, url, benchOrigin)
		if err != nil {
			return nil, err
		}
		defer c.close()
		// One call first: it subscribes the page to reader events, as a
		// portal's does, and keeps set-up out of the figures.
		if _, err := c.call("readers"); err != nil {
			return nil, err
		}
		cs[i] = c
	}
	var (
		mu    sync.Mutex
		all   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	start := make(chan struct{})
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, calls)
			<-start
			for range calls {
				t0 := time.Now()
				if _, err := c.call("readers"); err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return all, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// short formats a target duration compactly.
func short(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	}
	return d.String()
}
