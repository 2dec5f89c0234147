package bridge_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
)

// BenchmarkReadViaWebSocket reads identity, address and photo through the
// protocol, integrity checks included. Compare with BenchmarkReadInProcess
// for the cost of the WebSocket, JSON and server layers.
func BenchmarkReadViaWebSocket(b *testing.B) {
	e, _ := newEnv(b, sim.ProfileECC, preConsented, withLimits(bridge.Limits{RatePerSecond: 1e6, RateBurst: 1e6}))
	c := e.dial(testOrigin)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.ok("identity", nil, nil)
		c.ok("address", nil, nil)
		c.ok("photo", nil, nil)
	}
}

// BenchmarkReadInProcess does the card work of the three methods of
// BenchmarkReadViaWebSocket directly with the driver.
func BenchmarkReadInProcess(b *testing.B) {
	card := newCard(b, sim.ProfileECC)
	ctx := context.Background()
	chain := func(c *beid.Card, k *beid.Contents) {
		var err error
		if k.IdentitySignature, err = c.ReadFile(ctx, beid.FileIdentitySignature); err != nil {
			b.Fatal(err)
		}
		if k.RRNCert, err = c.Certificate(ctx, beid.FileRRNCert); err != nil {
			b.Fatal(err)
		}
		if k.RootCert, err = c.Certificate(ctx, beid.FileRootCert); err != nil {
			b.Fatal(err)
		}
		beid.VerifyIntegrity(k)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for m := 0; m < 3; m++ {
			c := beid.New(card) // a card session per request, as the server does
			k := &beid.Contents{}
			var err error
			switch m {
			case 0:
				k.Identity, k.IdentityFile, err = c.Identity(ctx)
			case 1:
				if k.Address, k.AddressFile, err = c.Address(ctx); err == nil {
					k.AddressSignature, err = c.ReadFile(ctx, beid.FileAddressSignature)
				}
			case 2:
				if k.Photo, err = c.Photo(ctx); err == nil {
					k.Identity, k.IdentityFile, err = c.Identity(ctx)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			chain(c, k)
		}
	}
}

// BenchmarkReadersLatency100Clients has 100 connected pages call "readers"
// at once, b.N rounds, and reports the latency percentiles of the calls.
func BenchmarkReadersLatency100Clients(b *testing.B) {
	const clients = 100
	e, _ := newEnv(b, sim.ProfileECC, preConsented, withLimits(bridge.Limits{
		MaxConns: clients, MaxConnsPerOrigin: clients, RatePerSecond: 1e6, RateBurst: 1e6}))
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = e.dial(testOrigin)
	}
	lat := make([]time.Duration, 0, b.N*clients)
	var mu sync.Mutex
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				m := c.call("readers", nil)
				d := time.Since(start)
				if m.Error != nil {
					b.Errorf("readers: %s", m.raw)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op") // a round's time says little; the percentiles do
}
