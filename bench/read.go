package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/apdu/beid"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/bridge"
	"github.com/cardbridge/cardbridge/bridge/pcscreaders"
)

// benchRead measures (a) and (b): a full read through the WebSocket
// against the same card work done in process through the same PC/SC
// readers adapter, and the APDUs each takes.
//
// The page of the figure first calls "readers", as a portal does to let
// the user choose the reader (the demo portal among them): that
// subscribes it to reader events, and while a page is subscribed the
// daemon finds the reader of a card request in its watcher's state
// instead of listing the readers again. Then a fresh daemon serves a page
// that never calls "readers", so that every request lists them, for a
// third of the rounds; that is reported in a note. The two daemons do not
// run at once: a second server in the process changes the figures.
func benchRead(ctx context.Context, o options, cs *cardSlot, r *report) error {
	direct := &benchReaders{Readers: pcscreaders.New(), pause: simPause}
	defer direct.Close()
	inProcess := func() error { return readInProcess(ctx, direct, cs.reader) }

	d, err := startInProcess(unlimited())
	if err != nil {
		return err
	}
	c, err := dial(ctx, d.url, benchOrigin)
	if err != nil {
		d.stop()
		return err
	}
	stopFirst := sync.OnceFunc(func() { c.close(); d.stop() })
	defer stopFirst()
	if _, err := c.call("readers"); err != nil {
		return err
	}

	// APDUs, counted at the card, for one full read each way.
	before := cs.card.Commands()
	if err := fullReadWS(c); err != nil {
		return err
	}
	wsAPDUs := cs.card.Commands() - before
	before = cs.card.Commands()
	if err := inProcess(); err != nil {
		return err
	}
	ipAPDUs := cs.card.Commands() - before

	if o.cpuprofile != "" {
		stop, err := startCPUProfile(o.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	ws, ip, err := alternate(o.rounds, func() error { return fullReadWS(c) }, inProcess)
	if err != nil {
		return err
	}
	stopFirst()

	d2, err := startInProcess(unlimited())
	if err != nil {
		return err
	}
	defer d2.stop()
	unsubscribed, err := dial(ctx, d2.url, benchOrigin)
	if err != nil {
		return err
	}
	defer unsubscribed.close()
	un, ip2, err := alternate(max(o.rounds/3, 10), func() error { return fullReadWS(unsubscribed) }, inProcess)
	if err != nil {
		return err
	}

	mws, mip := median(ws), median(ip)
	ratio := float64(mws) / float64(mip)
	r.figure("(a) full read, WebSocket / in-process (median)", "≤ 1.05",
		fmt.Sprintf("%.3f (%s / %s)", ratio, ms(mws), ms(mip)), ratio <= 1.05)
	r.note("identity+address+photo, %d rounds each way, alternating, integrity checks included; both sides open a PC/SC session per method", o.rounds)
	r.note("the page called readers first, as portals do; fastest round each way: %s / %s = %.3f; the daemon adds %s per request (median)",
		ms(slices.Min(ws)), ms(slices.Min(ip)), float64(slices.Min(ws))/float64(slices.Min(ip)), ms((mws-mip)/3))
	mun, mip2 := median(un), median(ip2)
	r.note("a page that never called readers (every request lists the readers), %d rounds: %.3f (%s / %s), %s per request",
		len(un), float64(mun)/float64(mip2), ms(mun), ms(mip2), ms((mun-mip2)/3))

	minimum, err := minMethodsAPDUs(cs.card)
	if err != nil {
		return err
	}
	r.figure("(b) APDUs per full read over WebSocket", fmt.Sprintf("= %d (min)", minimum),
		fmt.Sprintf("%d (in-process %d)", wsAPDUs, ipAPDUs), wsAPDUs == minimum && ipAPDUs == minimum)
	r.note("minimum for the files the three methods read: SELECT + MinReadAPDUs per file, MinCertificateReadAPDUs per certificate")

	before = cs.card.Commands()
	if _, err := readAllInProcess(ctx, direct, cs.reader); err != nil {
		return err
	}
	all := cs.card.Commands() - before
	minAll, err := minReadAllAPDUs(cs.card)
	if err != nil {
		return err
	}
	r.figure("(b) APDUs per complete card read (beid ReadAll)", fmt.Sprintf("= %d (min)", minAll),
		fmt.Sprint(all), all == minAll)
	return nil
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// fullReadWS reads the card through the page's connection with the
// methods a portal calls.
func fullReadWS(c *wsClient) error {
	for _, m := range []string{"identity", "address", "photo"} {
		if _, err := c.call(m); err != nil {
			return fmt.Errorf("%s over WebSocket: %w", m, err)
		}
	}
	return nil
}

// alternate warms a and b up, then times rounds of each, alternating
// which goes first, so that drifts in machine load hit both alike.
func alternate(rounds int, a, b func() error) (ta, tb []time.Duration, err error) {
	for range 3 {
		if err := a(); err != nil {
			return nil, nil, err
		}
		if err := b(); err != nil {
			return nil, nil, err
		}
	}
	for i := range rounds {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		for j, f := range []func() error{first, second} {
			start := time.Now()
			if err := f(); err != nil {
				return nil, nil, err
			}
			d := time.Since(start)
			if (j == 0) == (i%2 == 0) {
				ta = append(ta, d)
			} else {
				tb = append(tb, d)
			}
		}
	}
	return ta, tb, nil
}

// readInProcess does, with the driver, what the daemon's identity, address
// and photo methods do: one session per method, the same files, the same
// integrity checks.
func readInProcess(ctx context.Context, readers bridge.Readers, reader string) error {
	chain := func(card *beid.Card, k *beid.Contents) error {
		var err error
		if k.IdentitySignature, err = card.ReadFile(ctx, beid.FileIdentitySignature); err != nil {
			return err
		}
		if k.RRNCert, err = card.Certificate(ctx, beid.FileRRNCert); err != nil {
			return err
		}
		k.RootCert, err = card.Certificate(ctx, beid.FileRootCert)
		return err
	}
	// Each step reads what one method reads and names the integrity
	// checks that method reports.
	steps := []struct {
		read  func(card *beid.Card, k *beid.Contents) error
		check func(in beid.Integrity) error
	}{
		{func(card *beid.Card, k *beid.Contents) (err error) {
			if k.Identity, k.IdentityFile, err = card.Identity(ctx); err != nil || k.Identity.BasicKeyHash == nil {
				return err
			}
			// The genuineness check of applet 1.8 cards.
			if k.BasicPublicKey, err = card.ReadFile(ctx, beid.FileBasicPublicKey); err != nil {
				return err
			}
			k.BasicKeyChallenge, err = card.ChallengeBasicKey(ctx)
			return err
		}, func(in beid.Integrity) error {
			auth := in.CardAuthentication
			if errors.Is(auth, beid.ErrCardAuthUnavailable) {
				auth = nil
			}
			return cmpOr(in.IdentitySignature, cmpOr(in.RRNCertificate, auth))
		}},
		{func(card *beid.Card, k *beid.Contents) (err error) {
			if k.Address, k.AddressFile, err = card.Address(ctx); err != nil {
				return err
			}
			k.AddressSignature, err = card.ReadFile(ctx, beid.FileAddressSignature)
			return err
		}, func(in beid.Integrity) error { return cmpOr(in.AddressSignature, in.RRNCertificate) }},
		{func(card *beid.Card, k *beid.Contents) (err error) {
			if k.Photo, err = card.Photo(ctx); err != nil {
				return err
			}
			k.Identity, k.IdentityFile, err = card.Identity(ctx)
			return err
		}, func(in beid.Integrity) error {
			return cmpOr(in.PhotoHash, cmpOr(in.IdentitySignature, in.RRNCertificate))
		}},
	}
	for _, step := range steps {
		sess, err := readers.Open(ctx, reader)
		if err != nil {
			return err
		}
		card := beid.New(sess)
		k := &beid.Contents{}
		err = step.read(card, k)
		if err == nil {
			err = chain(card, k)
		}
		sess.Close()
		if err != nil {
			return err
		}
		if err := step.check(beid.VerifyIntegrity(k)); err != nil {
			return fmt.Errorf("integrity: %w", err)
		}
	}
	return nil
}

func readAllInProcess(ctx context.Context, readers bridge.Readers, reader string) (*beid.Contents, error) {
	sess, err := readers.Open(ctx, reader)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	return beid.New(sess).ReadAll(ctx)
}

// fileAPDUs returns SELECT plus the fewest READ BINARY for a file.
func fileAPDUs(card *sim.Card, f beid.File) (int, error) {
	b, ok := card.File(f)
	if !ok {
		return 0, fmt.Errorf("the card has no %s", f.Name)
	}
	return 1 + beid.MinReadAPDUs(len(b)), nil
}

// certAPDUs returns SELECT plus the fewest READ BINARY for a certificate.
func certAPDUs(card *sim.Card, f beid.File, cert *x509.Certificate) (int, error) {
	b, ok := card.File(f)
	if !ok {
		return 0, fmt.Errorf("the card has no %s", f.Name)
	}
	return 1 + beid.MinCertificateReadAPDUs(len(cert.Raw), len(b)), nil
}

// minMethodsAPDUs is the least number of APDUs for the files the identity,
// address and photo methods each read, with their integrity data.
func minMethodsAPDUs(card *sim.Card) (int, error) {
	pki := card.PKI()
	chain := []beid.File{beid.FileIdentitySignature}
	n := 0
	for _, files := range [][]beid.File{
		append([]beid.File{beid.FileIdentity}, chain...),
		append([]beid.File{beid.FileAddress, beid.FileAddressSignature}, chain...),
		append([]beid.File{beid.FilePhoto, beid.FileIdentity}, chain...),
	} {
		for _, f := range files {
			k, err := fileAPDUs(card, f)
			if err != nil {
				return 0, err
			}
			n += k
		}
		for _, c := range []struct {
			f    beid.File
			cert *x509.Certificate
		}{{beid.FileRRNCert, pki.RRN}, {beid.FileRootCert, pki.Root}} {
			k, err := certAPDUs(card, c.f, c.cert)
			if err != nil {
				return 0, err
			}
			n += k
		}
	}
	if card.Profile() == sim.ProfileECC {
		// The identity method's genuineness check: file 4040, then
		// INTERNAL AUTHENTICATE and its GET RESPONSE.
		k, err := fileAPDUs(card, beid.FileBasicPublicKey)
		if err != nil {
			return 0, err
		}
		n += k + 2
	}
	return n, nil
}

// minReadAllAPDUs is the least number of APDUs for a complete read: GET
// CARD DATA, every data file, every certificate.
func minReadAllAPDUs(card *sim.Card) (int, error) {
	n := 1 // GET CARD DATA
	files := []beid.File{beid.FileIdentity, beid.FileIdentitySignature, beid.FileAddress, beid.FileAddressSignature, beid.FilePhoto}
	if card.Profile() == sim.ProfileECC {
		files = append(files, beid.FileBasicPublicKey)
		n += 2 // the basic key challenge: INTERNAL AUTHENTICATE, GET RESPONSE
	}
	for _, f := range files {
		k, err := fileAPDUs(card, f)
		if err != nil {
			return 0, err
		}
		n += k
	}
	pki := card.PKI()
	for _, c := range []struct {
		f    beid.File
		cert *x509.Certificate
	}{
		{beid.FileAuthCert, card.AuthCert()}, {beid.FileSignCert, card.SignCert()},
		{beid.FileCACert, pki.CA}, {beid.FileRootCert, pki.Root}, {beid.FileRRNCert, pki.RRN},
	} {
		k, err := certAPDUs(card, c.f, c.cert)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// median returns the middle value of ds (the mean of the two middle ones
// for an even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the p-th percentile (0 < p ≤ 100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
