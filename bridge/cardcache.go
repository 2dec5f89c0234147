package bridge

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// A real card answers in milliseconds per command and tens of
// milliseconds per file, so the core reads each file of a card at most once
// per insertion: the files the methods read (identity, address, photo,
// their signatures, the certificates, the basic public key), the GET CARD
// DATA answer and the basic key challenge are kept per reader, for the
// card inserted in it, and dropped when that card leaves. The files of a
// card do not change while it stays in the reader (the town hall rewrites
// the address in its own reader), and everything kept is public: the card
// gives it to anyone who asks.
//
// The cache never vouches for more than the card did: a counterfeit that
// copies a genuine card's files gains nothing from being served them, and
// the genuineness challenge is reused only under an insertion mark (see
// ChallengeBasicKey).
//
// What identifies "the card inserted in the reader" is the session's
// insertion mark (InsertionSession): PC/SC counts the insertions and
// removals of each reader, and a session reads that count once it holds
// the card. An entry serves a session only when the reader, the count and
// the ATR are the ones it was filled under: after a swap, even one quicker
// than any watcher, the count differs. Where the reader layer cannot tell
// insertions apart, the entry is tied to the card's serial instead (GET
// CARD DATA at the start of each session), which still tells one card from
// another.

// InsertionSession is a CardSession that can tell which insertion of a card
// it is connected to. Readers implementations should provide it.
type InsertionSession interface {
	CardSession
	// Insertion returns a value that changes whenever a card is inserted
	// in or removed from the session's reader (PC/SC's event count),
	// read after the session took hold of the card; ok is false when
	// the reader layer cannot tell.
	Insertion() (mark int, ok bool)
}

// cardCache holds one entry per reader. Entries are used under the
// reader's lock (withCard); the map has a lock of its own because the
// reader watcher drops entries too.
type cardCache struct {
	mu sync.Mutex
	m  map[string]*cardEntry
}

// cardEntry is what one insertion of one card gave.
type cardEntry struct {
	atr    []byte
	mark   int
	marked bool   // mark is PC/SC's event count; else serial identifies the card
	serial []byte // from data, for entries without a mark

	data      *beid.CardData
	files     map[string][]byte      // by path
	certs     map[string]certOutcome // by path
	challenge *beid.BasicKeyChallenge
}

// certOutcome is a certificate read, or the answer that there is none
// (ErrNoCertificate or a missing file): both are facts of the card.
type certOutcome struct {
	cert *x509.Certificate
	err  error
}

func newCardCache() *cardCache { return &cardCache{m: make(map[string]*cardEntry)} }

// attach returns the cache's view of the card in sess, in reader.
func (cc *cardCache) attach(reader string, sess CardSession) *cachedCard {
	atr := sessionATR(sess)
	c := &cachedCard{cache: cc, reader: reader, atr: atr}
	if is, ok := sess.(InsertionSession); ok {
		c.mark, c.marked = is.Insertion()
	}
	if !c.marked {
		return c // resolved with the serial, at the first use
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e := cc.m[reader]
	if e == nil || !e.marked || e.mark != c.mark || !bytes.Equal(e.atr, atr) {
		e = &cardEntry{atr: bytes.Clone(atr), mark: c.mark, marked: true}
		cc.m[reader] = e
	}
	c.e = e
	return c
}

// retain drops the entries of readers that are gone or hold no card.
func (cc *cardCache) retain(list []ReaderInfo) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for name := range cc.m {
		i := -1
		for j, r := range list {
			if r.Name == name {
				i = j
				break
			}
		}
		if i < 0 || !list[i].CardPresent {
			delete(cc.m, name)
		}
	}
}

// cachedCard is a card session's driver behind the cache: the reads it
// answers from the entry of the card's insertion when it can.
type cachedCard struct {
	*beid.Card
	cache  *cardCache
	reader string
	atr    []byte
	mark   int
	marked bool
	e      *cardEntry // nil until resolved
}

// entry returns the card's entry, finding it by serial when the session
// has no insertion mark.
func (c *cachedCard) entry(ctx context.Context) (*cardEntry, error) {
	if c.e != nil {
		return c.e, nil
	}
	cd, err := c.Card.CardData(ctx)
	if err != nil {
		return nil, err
	}
	cc := c.cache
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e := cc.m[c.reader]
	if e == nil || e.marked || !bytes.Equal(e.serial, cd.Serial) || !bytes.Equal(e.atr, c.atr) {
		e = &cardEntry{atr: bytes.Clone(c.atr), serial: bytes.Clone(cd.Serial), data: cd}
		cc.m[c.reader] = e
	}
	c.e = e
	return e, nil
}

// driverOptions seeds the driver with what the entry knows.
func (c *cachedCard) driverOptions() []beid.Option {
	if c.e != nil && c.e.data != nil {
		return []beid.Option{beid.WithCardData(c.e.data)}
	}
	return nil
}

// CardData is beid.Card.CardData, asked once per insertion.
func (c *cachedCard) CardData(ctx context.Context) (*beid.CardData, error) {
	e, err := c.entry(ctx)
	if err != nil {
		return nil, err
	}
	if e.data == nil {
		if e.data, err = c.Card.CardData(ctx); err != nil {
			return nil, err
		}
	}
	cd := *e.data
	cd.Serial = bytes.Clone(e.data.Serial)
	return &cd, nil
}

func pathKey(f beid.File) string {
	var b strings.Builder
	for _, id := range f.Path {
		b.WriteByte(byte(id >> 8))
		b.WriteByte(byte(id))
	}
	return b.String()
}

// ReadFile is beid.Card.ReadFile, read once per insertion. The caller
// must not change the bytes returned.
func (c *cachedCard) ReadFile(ctx context.Context, f beid.File) ([]byte, error) {
	e, err := c.entry(ctx)
	if err != nil {
		return nil, err
	}
	k := pathKey(f)
	if b, ok := e.files[k]; ok {
		return b, nil
	}
	b, err := c.Card.ReadFile(ctx, f)
	if err != nil {
		return nil, err
	}
	if e.files == nil {
		e.files = make(map[string][]byte)
	}
	e.files[k] = b
	return b, nil
}

// Certificate is beid.Card.Certificate, read once per insertion; that a
// file holds no certificate is kept too.
func (c *cachedCard) Certificate(ctx context.Context, f beid.File) (*x509.Certificate, error) {
	e, err := c.entry(ctx)
	if err != nil {
		return nil, err
	}
	k := pathKey(f)
	if o, ok := e.certs[k]; ok {
		return o.cert, o.err
	}
	cert, err := c.Card.Certificate(ctx, f)
	if err != nil && !errors.Is(err, beid.ErrNoCertificate) && !errors.Is(err, apdu.ErrFileNotFound) {
		return nil, err
	}
	if e.certs == nil {
		e.certs = make(map[string]certOutcome)
	}
	e.certs[k] = certOutcome{cert, err}
	return cert, err
}

// Identity is beid.Card.Identity over the cached file.
func (c *cachedCard) Identity(ctx context.Context) (*beid.Identity, []byte, error) {
	raw, err := c.ReadFile(ctx, beid.FileIdentity)
	if err != nil {
		return nil, nil, err
	}
	id, err := beid.ParseIdentity(raw)
	if err != nil {
		return nil, raw, err
	}
	return id, raw, nil
}

// Address is beid.Card.Address over the cached file.
func (c *cachedCard) Address(ctx context.Context) (*beid.Address, []byte, error) {
	raw, err := c.ReadFile(ctx, beid.FileAddress)
	if err != nil {
		return nil, nil, err
	}
	addr, err := beid.ParseAddress(raw)
	if err != nil {
		return nil, raw, err
	}
	return addr, raw, nil
}

// Photo is beid.Card.Photo over the cached file.
func (c *cachedCard) Photo(ctx context.Context) ([]byte, error) {
	return c.ReadFile(ctx, beid.FilePhoto)
}

// ChallengeBasicKey is beid.Card.ChallengeBasicKey once per insertion: the
// card that answered it stays the one in the reader, so its answer still
// proves what it proved. Only PC/SC's insertion mark vouches for that: an
// entry found by serial was found by what the card says, which a
// counterfeit can copy, so without a mark every request challenges anew.
func (c *cachedCard) ChallengeBasicKey(ctx context.Context) (*beid.BasicKeyChallenge, error) {
	e, err := c.entry(ctx)
	if err != nil {
		return nil, err
	}
	if e.challenge != nil && e.marked {
		return e.challenge, nil
	}
	ch, err := c.Card.ChallengeBasicKey(ctx)
	if err != nil {
		return nil, err
	}
	e.challenge = ch
	return ch, nil
}
