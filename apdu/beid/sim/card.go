package sim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Options configure New. The zero value makes an applet 1.8 card for the
// default person with PIN 1234 and a fresh PKI.
type Options struct {
	// Profile is the card generation; zero means the PKI's profile when a
	// PKI is given, else ProfileECC.
	Profile Profile
	// PIN is the user PIN, 4 to 12 digits; empty means "1234".
	PIN string
	// Person is the card holder; nil means DefaultPerson(). The card
	// works on a copy.
	Person *Person
	// PKI issues the card's certificates and signs its identity files; nil
	// means a fresh NewPKI(Profile). Sharing one PKI between cards saves
	// the key generation, which matters for RSA.
	PKI *PKI
	// Photo is the JPEG of file 4035; nil means a generated grey
	// 140x200 picture of about 3 KB.
	Photo []byte
	// Serial is the 16-byte chip serial (GET CARD DATA bytes 0-15,
	// identity tag 02, TokenInfo); nil means a random one.
	Serial []byte
	// MuteOnEarlyResend, when positive, makes the card behave as real
	// BELPIC cards do when a command follows a 6Cxx answer too soon (see
	// beid.DefaultResendDelay): a command that arrives less than this
	// after a 6Cxx answer gets no answer, and the card stays mute until it
	// is reset. Transmit then fails with ErrMute; over vpcd the connection
	// drops, which pcscd reports as a real mute card's failed transmission
	// (SCARD_E_NOT_TRANSACTED) before it finds the card gone. Zero: the
	// card answers at once, whenever asked.
	MuteOnEarlyResend time.Duration
	// ForeignBasicKey makes a counterfeit: a card whose files are those of
	// a genuine card (file 4040 and the identity file's tag 1A, signed by
	// the National Register, name one basic key) while the chip holds
	// another basic key, as a card built from files copied off a genuine
	// one would. It answers the basic key challenge with the key it holds,
	// which does not verify with file 4040. Applet 1.8 profiles only.
	ForeignBasicKey bool
	// Timing, when not nil, makes the card take as long as a real card to
	// answer each command (see Timing and RealTiming); Card.CardTime adds
	// up that time. Nil answers at once.
	Timing *Timing
}

// A Card is what the driver talks to in-process.
var _ apdu.Transmitter = (*Card)(nil)

// Initial value of the PIN try counter (facts §5).
const maxPINTries = 3

// internalAuthLimit is the number of INTERNAL AUTHENTICATE commands after
// which the applet refuses more until a successful VERIFY (facts §6).
const internalAuthLimit = 5000

// logSize bounds the command log so that a long-running beidsim does not
// grow without limit.
const logSize = 256

// LogEntry records one command the card answered. The data of VERIFY and
// CHANGE REFERENCE DATA commands is left out: it is a PIN block.
type LogEntry struct {
	Command apdu.Command
	SW      apdu.StatusWord
}

// Card is a simulated Belgian eID card. It answers command APDUs the way
// the BELPIC applet does under T=0 (facts §1-§8): see the package
// documentation for the behaviour in detail.
//
// A Card is safe for concurrent use; commands are processed one at a time,
// as a real card does.
type Card struct {
	// Immutable after New.
	profile Profile
	k       *contents
	pin     []byte
	muteGap time.Duration // Options.MuteOnEarlyResend
	timing  *Timing       // Options.Timing
	// cardTime is the time the card has spent answering in real-timing
	// mode, 6Cxx recoveries included.
	cardTime time.Duration

	mu sync.Mutex
	// Non-volatile state: survives Reset and removal, as EEPROM does.
	tries     int
	authCount int // INTERNAL AUTHENTICATE commands since the last successful VERIFY
	// Volatile state, lost on Reset and removal.
	s session
	// Removal.
	pulled bool
	pullIn int // commands until the card is pulled; 0 when not armed
	// Observation for tests.
	count int
	log   []LogEntry
}

// event classifies a processed command for the non-repudiation rule, which
// looks at the two commands before a signature.
type event int

const (
	evOther     event = iota
	evVerified        // a successful VERIFY with a PIN
	evVerifyCmd       // any other VERIFY: wrong, malformed, or a status query
	evMSE
	evPSO
)

// session is what a card forgets on power loss.
type session struct {
	cardManager bool  // an empty SELECT by AID left the applet (facts §2)
	df, ef      *node // current DF and current EF (nil: none)
	pending     []byte
	verified    bool // PIN-once access for key 82
	authBefore  bool // verified already held when the latest successful VERIFY came
	se          securityEnv
	prev        [2]event  // prev[0] is the command just before
	exactAt     time.Time // when the card last answered 6Cxx; zero if the last answer was another
	mute        bool      // the card stopped answering (MuteOnEarlyResend)
}

type securityEnv struct {
	set      bool
	key, alg byte
}

// New personalises a card.
func New(opts Options) (*Card, error) {
	profile := opts.Profile
	if profile == 0 {
		profile = ProfileECC
		if opts.PKI != nil && opts.PKI.Profile.valid() {
			profile = opts.PKI.Profile
		}
	}
	if !profile.valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownProfile, profile)
	}
	pin := opts.PIN
	if pin == "" {
		pin = "1234"
	}
	if !validPIN(pin) {
		return nil, fmt.Errorf("%w: PIN must be 4 to 12 digits", ErrInvalidOptions)
	}
	person := DefaultPerson()
	if opts.Person != nil {
		person = opts.Person.clone()
	}
	if err := person.validate(); err != nil {
		return nil, err
	}
	pki := opts.PKI
	if pki == nil {
		var err error
		if pki, err = NewPKI(profile); err != nil {
			return nil, err
		}
	}
	if err := pki.check(profile); err != nil {
		return nil, err
	}
	k := &contents{profile: profile, person: person, pki: pki, photo: bytes.Clone(opts.Photo)}
	if k.photo == nil {
		var err error
		if k.photo, err = defaultPhoto(); err != nil {
			return nil, fmt.Errorf("sim: photo: %w", err)
		}
	}
	if len(k.photo) == 0 || len(k.photo) > 0x7FFF {
		// READ BINARY offsets stop at 0x7FFF (facts §3).
		return nil, fmt.Errorf("%w: photo of %d bytes", ErrInvalidOptions, len(k.photo))
	}
	switch {
	case opts.Serial == nil:
		// Chip serials start with a fixed manufacturer prefix; the rest is
		// unique per chip (facts §7).
		k.serial = append([]byte{0x53, 0x4C, 0x49, 0x4E}, make([]byte, 12)...)
		if _, err := rand.Read(k.serial[4:]); err != nil {
			return nil, fmt.Errorf("sim: serial: %w", err)
		}
	case len(opts.Serial) == 16:
		k.serial = bytes.Clone(opts.Serial)
	default:
		return nil, fmt.Errorf("%w: serial of %d bytes, want 16", ErrInvalidOptions, len(opts.Serial))
	}
	if profile == ProfileECC {
		var err error
		if k.basicKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			return nil, fmt.Errorf("sim: basic key: %w", err)
		}
		if k.basicPub, err = x509.MarshalPKIXPublicKey(&k.basicKey.PublicKey); err != nil {
			return nil, fmt.Errorf("sim: basic key: %w", err)
		}
	}
	var err error
	notBefore, notAfter := person.validity()
	if k.auth, k.sign, err = pki.citizenCerts(person, notBefore, notAfter); err != nil {
		return nil, err
	}
	if err := k.personalise(); err != nil {
		return nil, err
	}
	if opts.ForeignBasicKey {
		if k.basicKey == nil {
			return nil, fmt.Errorf("%w: a foreign basic key needs a card with a basic key (applet 1.8)", ErrInvalidOptions)
		}
		// The files keep naming the genuine key; the chip gets another.
		if k.basicKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			return nil, fmt.Errorf("sim: basic key: %w", err)
		}
	}
	k.cardData = cardData(profile, k.serial)
	if opts.MuteOnEarlyResend < 0 {
		return nil, fmt.Errorf("%w: negative MuteOnEarlyResend", ErrInvalidOptions)
	}
	var timing *Timing
	if opts.Timing != nil {
		if opts.Timing.ETU() <= 0 || opts.Timing.Command < 0 || opts.Timing.Verify < 0 ||
			opts.Timing.Signature < 0 || opts.Timing.ResendRecovery < 0 {
			return nil, fmt.Errorf("%w: timing %+v", ErrInvalidOptions, *opts.Timing)
		}
		t := *opts.Timing
		timing = &t
	}
	c := &Card{profile: profile, k: k, pin: []byte(pin), tries: maxPINTries, muteGap: opts.MuteOnEarlyResend, timing: timing}
	c.s = c.freshSession()
	return c, nil
}

func validPIN(pin string) bool {
	if len(pin) < 4 || len(pin) > 12 {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}

// cardData is the GET CARD DATA answer with P2=00 (facts §7): serial,
// component code, OS number and version, softmask number and version,
// applet version, global OS version, applet interface version, PKCS#1
// support, key exchange version and life cycle (0F, personalised).
func cardData(p Profile, serial []byte) []byte {
	b := bytes.Clone(serial)
	if p == ProfileECC {
		return append(b, 0xD0, 0x29, 0x02, 0x2E, 0x01, beid.Applet18, 0x00, 0x01, 0x00, 0x00, 0x02, 0x0F)
	}
	return append(b, 0xD0, 0x25, 0x01, 0x1C, 0x03, beid.Applet17, 0x00, 0x03, 0x00, 0x21, 0x01, 0x0F)
}

// freshSession is the state after reset: the applet selected by default
// with the MF as current DF and no current EF (facts §2).
func (c *Card) freshSession() session {
	return session{df: c.k.mf}
}

// ATR returns the profile's answer to reset (facts §1).
func (c *Card) ATR() []byte { return c.profile.atr() }

// ResendDelay is 0: the simulator answers an exact-length repeat at once,
// unless MuteOnEarlyResend asks it to test the pause. It makes a Card a
// beid.ResendPacer, so that in-process tests do not wait.
func (c *Card) ResendDelay() time.Duration { return 0 }

// Mute reports whether the card stopped answering (MuteOnEarlyResend).
func (c *Card) Mute() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.mute
}

// Profile returns the card generation.
func (c *Card) Profile() Profile { return c.profile }

// Serial returns the 16-byte chip serial.
func (c *Card) Serial() []byte { return bytes.Clone(c.k.serial) }

// PKI returns the hierarchy the card's certificates chain to.
func (c *Card) PKI() *PKI { return c.k.pki }

// Person returns the holder data as the card carries it, the card-made
// fields (chip number, photo hash, basic key hash) filled in.
func (c *Card) Person() *Person { return c.k.person.clone() }

// AuthCert and SignCert return the certificates of keys 0x82 and 0x83.
func (c *Card) AuthCert() *x509.Certificate { return c.k.auth }

// SignCert returns the non-repudiation certificate (key 0x83).
func (c *Card) SignCert() *x509.Certificate { return c.k.sign }

// BasicPublicKey returns the card's basic key (key 0x81, file 4040) on the
// ECC profile, nil on the RSA profile.
func (c *Card) BasicPublicKey() *ecdsa.PublicKey {
	if c.k.basicKey == nil {
		return nil
	}
	return &c.k.basicKey.PublicKey
}

// File returns a copy of the content of f as stored on the card, padding
// included, and whether the card has it.
func (c *Card) File(f beid.File) ([]byte, bool) {
	if len(f.Path) == 0 || f.Path[0] != fidMF {
		return nil, false
	}
	n := c.k.mf
	for _, fid := range f.Path[1:] {
		if n = n.child(fid); n == nil {
			return nil, false
		}
	}
	if n.isDF {
		return nil, false
	}
	return bytes.Clone(n.data), true
}

// Reset power-cycles the card: the PIN-verified state, the security
// environment, the current file and any response waiting for GET RESPONSE
// are lost. The PIN try counter is not, as it lives in EEPROM.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = c.freshSession()
}

// Pull takes the card out of the reader: Transmit fails with ErrPulled
// until Reinsert.
func (c *Card) Pull() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pulled, c.pullIn = true, 0
	c.s = c.freshSession()
}

// PullAfter arranges for the card to be pulled as the n-th next command
// arrives: that command and all later ones fail with ErrPulled until
// Reinsert. PullAfter(1) pulls on the very next command; n <= 0 pulls now.
// It is how tests make a card vanish in the middle of an operation.
func (c *Card) PullAfter(n int) {
	if n <= 0 {
		c.Pull()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pullIn = n
}

// Reinsert puts a pulled card back, freshly powered.
func (c *Card) Reinsert() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pulled, c.pullIn = false, 0
	c.s = c.freshSession()
}

// Pulled reports whether the card is out of the reader.
func (c *Card) Pulled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pulled
}

// TriesLeft returns the PIN tries left, 0 when the PIN is blocked.
func (c *Card) TriesLeft() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

// Commands returns the number of command APDUs the card has answered.
func (c *Card) Commands() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// Log returns the last commands answered (at most 256), oldest first.
func (c *Card) Log() []LogEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]LogEntry(nil), c.log...)
}

// Transmit processes one command APDU and returns the response APDU. It
// implements apdu.Transmitter. Card-level failures are status words, never
// errors: the only errors are ctx's and ErrPulled.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pullIn > 0 {
		if c.pullIn--; c.pullIn == 0 {
			c.pulled = true
			c.s = c.freshSession()
		}
	}
	if c.pulled {
		return nil, ErrPulled
	}
	if c.muteGap > 0 {
		if !c.s.mute && !c.s.exactAt.IsZero() && time.Since(c.s.exactAt) < c.muteGap {
			c.s.mute = true
		}
		if c.s.mute {
			return nil, ErrMute
		}
	}
	parsed, resp := c.process(cmd)
	if c.timing != nil {
		if err := c.takeTime(ctx, parsed, resp); err != nil {
			return nil, err
		}
	}
	c.s.exactAt = time.Time{}
	if resp.SW.SW1() == 0x6C {
		c.s.exactAt = time.Now()
	}
	c.count++
	if parsed.INS == apdu.InsVerify || parsed.INS == apdu.InsChangeReference {
		parsed.Data = nil
	} else {
		parsed.Data = bytes.Clone(parsed.Data)
	}
	if len(c.log) == logSize {
		c.log = append(c.log[:0], c.log[1:]...)
	}
	c.log = append(c.log, LogEntry{Command: parsed, SW: resp.SW})
	return resp.Bytes(), nil
}

// takeTime waits, in real-timing mode, as long as a real card takes to
// answer, and counts it in cardTime. The card is busy meanwhile: the lock
// stays held, as a card answers one command at a time. When ctx ends first
// the card is as good as pulled mid-answer: the command took effect, the
// answer is lost.
func (c *Card) takeTime(ctx context.Context, cmd apdu.Command, resp apdu.Response) error {
	start := time.Now()
	t := time.NewTimer(c.timing.CommandTime(cmd, resp))
	defer t.Stop()
	select {
	case <-ctx.Done():
		c.cardTime += time.Since(start)
		return ctx.Err()
	case <-t.C:
	}
	// What the card really took, timer lateness included: the bench
	// divides by this.
	c.cardTime += time.Since(start)
	if resp.SW.SW1() == 0x6C {
		c.cardTime += c.timing.ResendRecovery
	}
	return nil
}

// CardTime returns the time the card has spent answering commands in
// real-timing mode (Options.Timing), including the recovery the card
// needs after each 6Cxx answer; zero otherwise.
func (c *Card) CardTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cardTime
}
