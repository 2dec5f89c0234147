package pcsc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"

	"github.com/ebfe/scard"
)

// PC/SC part 10 feature tags (the ones cardbridge cares about; Features
// returns all that the reader reports).
const (
	FeatureVerifyPINStart    byte = 0x01
	FeatureVerifyPINFinish   byte = 0x02
	FeatureVerifyPINDirect   byte = 0x06
	FeatureModifyPINDirect   byte = 0x07
	FeatureIFDPINProperties  byte = 0x0A
	FeatureGetTLVProperties  byte = 0x12
	featureGetFeatureRequest      = 3400 // CM_IOCTL_GET_FEATURE_REQUEST
)

// Features asks the reader for its PC/SC part 10 features: a map from feature
// tag (FeatureVerifyPINDirect, ...) to the control code that invokes it. A
// reader without any returns an empty map. The answer is cached.
func (c *Card) Features(ctx context.Context) (map[byte]uint32, error) {
	if err := contextError(opControl, ctx); err != nil {
		return nil, err
	}
	if err := c.lock(ctx, opControl); err != nil {
		return nil, err
	}
	defer c.unlock()
	if c.features == nil {
		out, err := c.h.Control(scard.CtlCode(featureGetFeatureRequest), nil)
		if err != nil {
			err = wrap(opControl, err)
			if !errors.Is(err, ErrNotSupported) {
				return nil, err
			}
			// Drivers without part 10 support (vpcd among them) refuse
			// the request: that is "no features", not a failure.
			out = nil
		}
		f, err := parseFeatures(out)
		if err != nil {
			return nil, err
		}
		c.features = f
	}
	return maps.Clone(c.features), nil
}

// parseFeatures decodes the GET_FEATURE_REQUEST answer: a list of
// tag (1 byte), length (always 4), control code (4 bytes, big-endian).
func parseFeatures(b []byte) (map[byte]uint32, error) {
	f := make(map[byte]uint32)
	for len(b) > 0 {
		if len(b) < 2 || b[1] != 4 || len(b) < 6 {
			return nil, fmt.Errorf("pcsc: malformed feature list % X", b)
		}
		f[b[0]] = binary.BigEndian.Uint32(b[2:6])
		b = b[6:]
	}
	return f, nil
}

// HasPinpad reports whether the reader can verify a PIN typed on its own
// keypad (FEATURE_VERIFY_PIN_DIRECT).
func (c *Card) HasPinpad(ctx context.Context) bool {
	f, err := c.Features(ctx)
	if err != nil {
		return false
	}
	_, ok := f[FeatureVerifyPINDirect]
	return ok
}

// VerifyPINDirect has the reader collect the PIN on its keypad and send the
// VERIFY command built from verifyStructure (a PC/SC part 10
// PIN_VERIFY_STRUCTURE). It returns the card's answer, normally just the
// status word. It fails with ErrNotSupported on readers without a PIN pad.
//
// The call lasts as long as the user takes to type (up to the timeout in
// verifyStructure) and cannot be interrupted; ctx is checked before.
func (c *Card) VerifyPINDirect(ctx context.Context, verifyStructure []byte) ([]byte, error) {
	f, err := c.Features(ctx)
	if err != nil {
		return nil, err
	}
	code, ok := f[FeatureVerifyPINDirect]
	if !ok {
		return nil, fmt.Errorf("pcsc: verify PIN on pinpad: %w", ErrNotSupported)
	}
	if err := c.lock(ctx, opControl); err != nil {
		return nil, err
	}
	defer c.unlock()
	rsp, err := c.h.Control(code, verifyStructure)
	if err != nil {
		return nil, c.classify(ctx, opControl, err)
	}
	return rsp, nil
}

// FirmwareVersion returns the reader's firmware version as major<<8|minor,
// from the high half of SCARD_ATTR_VENDOR_IFD_VERSION (0xMMmmbbbb: major,
// minor, build), or 0 when the reader driver does not report it. The
// BELPIC driver needs it for a pinpad reader's quirk (beid.PinpadOptions).
func (c *Card) FirmwareVersion(ctx context.Context) uint16 {
	if err := c.lock(ctx, opControl); err != nil {
		return 0
	}
	defer c.unlock()
	b, err := c.h.GetAttrib(scard.AttrVendorIfdVersion)
	if err != nil || len(b) < 4 {
		return 0
	}
	// A DWORD in the host's byte order.
	return uint16(binary.NativeEndian.Uint32(b) >> 16)
}
