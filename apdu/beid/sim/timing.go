package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid"
)

// Timing is how long a real card takes to answer, for the simulator's
// real-timing mode (Options.Timing): the time the card's characters take
// on the wire at the speed its ATR offers, plus the time the chip spends
// on each command. The simulator in-process answers in microseconds; a
// real card in milliseconds per command, and what a user waits for is
// mostly this.
//
// The wire time follows ISO/IEC 7816-3. One elementary time unit (etu)
// lasts F/D clock cycles, F and D coming from the ATR's TA1 (Fi from the
// high nibble, Di from the low one; Fi=372, Di=1 without TA1). Under T=0 a
// character takes at least 12 etu (10 bits and the 2 etu guard time). A
// command is sent as its 5-byte header (P3 is sent even when there is no
// Lc or Le); the card answers with a procedure byte before the data that
// follows the header in either direction, and ends with SW1 SW2. So a
// command costs 5 + 2 characters, plus 1 + n for n data bytes each way.
//
// For the applet 1.7 ATR (TA1=13: Fi=372, Di=4) that is 93 clock cycles per
// etu, 43010 bit/s at 4 MHz, as pcsc_scan decodes it
// (github.com/LudovicRousseau/PCSC issue 42); a 252-byte READ BINARY is
// then 73 ms on the wire, and a real 1.7 card was logged answering one in
// 88 ms through a reader and middleware
// (github.com/roelderickx/connective-plugin-linux issue 15). The applet
// 1.8 ATR (TA1=96: Fi=512, Di=32) gives 16 cycles per etu, 250 kbit/s at
// 4 MHz.
type Timing struct {
	// ClockHz is the clock the reader gives the card. CCID readers give 4
	// to 4.8 MHz; pcsc_scan quotes its bit rates at 4 MHz.
	ClockHz int
	// F and D are the clock rate conversion and baud rate adjustment
	// integers of the ATR's TA1 (ISO/IEC 7816-3 tables 7 and 8).
	F, D int
	// Command is what the chip spends on every command before it answers
	// (decoding, file system, EEPROM reads). An estimate: the 88 ms logged
	// for a 252-byte read of a 1.7 card leave about 15 ms for the chip, the
	// reader and the host together.
	Command time.Duration
	// Verify is the extra time of a VERIFY with a PIN block: the try
	// counter is written to EEPROM before and after the comparison. An
	// estimate (EEPROM writes take some milliseconds each).
	Verify time.Duration
	// Signature is the extra time of a signature (PSO: COMPUTE DIGITAL
	// SIGNATURE, INTERNAL AUTHENTICATE). An estimate of the order of
	// magnitude of smart-card crypto coprocessors: hundreds of
	// milliseconds for RSA-2048, less for ECDSA P-384; no public
	// measurement of these chips was found.
	Signature time.Duration
	// ResendRecovery is how long the card needs after a 6Cxx answer before
	// it takes the repeat with the exact length: the card does not wait
	// it (it stays mute to a repeat sent sooner, see
	// Options.MuteOnEarlyResend), but it is the card's time, so it counts
	// in Card.CardTime. The references wait 10 to 50 ms
	// (beid.DefaultResendDelay).
	ResendRecovery time.Duration
}

// DefaultClockHz is the card clock RealTiming assumes.
const DefaultClockHz = 4_000_000

// ErrBadATR reports an ATR the timing model cannot read.
var ErrBadATR = errors.New("sim: ATR without a usable TA1")

// RealTiming returns the timing model of a real card of profile p: the wire
// speed of its ATR at DefaultClockHz and the per-command estimates
// documented on Timing.
func RealTiming(p Profile) Timing {
	f, d, err := TA1(p.atr())
	if err != nil {
		// The profiles' ATRs are constants that have a TA1.
		panic(err)
	}
	t := Timing{
		ClockHz:        DefaultClockHz,
		F:              f,
		D:              d,
		Command:        5 * time.Millisecond,
		Verify:         20 * time.Millisecond,
		Signature:      500 * time.Millisecond, // RSA-2048
		ResendRecovery: beid.DefaultResendDelay,
	}
	if p == ProfileECC {
		t.Signature = 200 * time.Millisecond // ECDSA P-384
	}
	return t
}

// Fi and Di by the nibbles of TA1 (ISO/IEC 7816-3 tables 7 and 8); 0 is
// reserved for future use.
var (
	fiTable = [16]int{372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0}
	diTable = [16]int{0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0}
)

// TA1 returns Fi and Di from an ATR: from its TA1 when T0 says there is
// one, else the defaults Fi=372, Di=1.
func TA1(atr []byte) (fi, di int, err error) {
	if len(atr) < 2 {
		return 0, 0, fmt.Errorf("%w: % X", ErrBadATR, atr)
	}
	if atr[1]&0x10 == 0 {
		return 372, 1, nil
	}
	if len(atr) < 3 {
		return 0, 0, fmt.Errorf("%w: % X", ErrBadATR, atr)
	}
	fi, di = fiTable[atr[2]>>4], diTable[atr[2]&0x0F]
	if fi == 0 || di == 0 {
		return 0, 0, fmt.Errorf("%w: TA1 %02X is reserved", ErrBadATR, atr[2])
	}
	return fi, di, nil
}

// ETU returns the elementary time unit.
func (t Timing) ETU() time.Duration {
	if t.ClockHz <= 0 || t.D <= 0 {
		return 0
	}
	return time.Duration(float64(t.F) / float64(t.D) / float64(t.ClockHz) * float64(time.Second))
}

// t0CharETU is the least time a T=0 character takes: 10 bits and 2 etu
// of guard time (ISO/IEC 7816-3 §7.2).
const t0CharETU = 12

// WireTime returns the time the characters of one T=0 exchange take: the
// header, a procedure byte and the data in each direction that has data,
// and the status word.
func (t Timing) WireTime(dataIn, dataOut int) time.Duration {
	chars := 5 + 2
	if dataIn > 0 {
		chars += 1 + dataIn
	}
	if dataOut > 0 {
		chars += 1 + dataOut
	}
	return time.Duration(chars*t0CharETU) * t.ETU()
}

// CommandTime returns how long the card takes to answer cmd with resp,
// from the first byte of the command to the last of the answer.
func (t Timing) CommandTime(cmd apdu.Command, resp apdu.Response) time.Duration {
	d := t.WireTime(len(cmd.Data), len(resp.Data)) + t.Command
	switch cmd.INS {
	case apdu.InsVerify:
		if len(cmd.Data) > 0 {
			d += t.Verify
		}
	case apdu.InsPSO, apdu.InsInternalAuth:
		// The signature is computed before the card answers 61xx (or
		// the data, with Le); a failed one (6982, 6985) is not.
		if resp.SW == apdu.SWOK || resp.SW.SW1() == 0x61 {
			d += t.Signature
		}
	}
	return d
}
