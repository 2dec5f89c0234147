package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"
)

// An MSI's summary information is an OLE property set stream
// ("\005SummaryInformation", [MS-OLEPS] 2.21) inside the compound file.
// wixl fills three of its properties from the clock and the random
// source, so two builds of the same inputs differ in them and nowhere
// else: the package code (PID_REVNUMBER, learn.microsoft.com/windows/win32/msi/revision-number-summary),
// the creation time (PID_CREATE_DTM) and the last save time
// (PID_LASTSAVE_DTM). patchMSISummary overwrites them in place with a
// package code derived from the inputs and the commit time. The stream is
// a few hundred bytes, which wixl writes contiguously; every value keeps
// its size, so the compound file's structure is untouched.
const (
	pidRevNumber = 9
	pidCreateDTM = 12
	pidSaveDTM   = 13
	vtLPSTR      = 30
	vtFILETIME   = 64
)

// fmtidSummaryInformation is {F29F85E0-4FF9-1068-AB91-08002B27B3D9} as
// stored (the first three fields little-endian).
var fmtidSummaryInformation = []byte{0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9}

var bracedGUID = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`)

func patchMSISummary(path, packageCode string, t time.Time) error {
	if len(packageCode) == 36 {
		packageCode = "{" + packageCode + "}"
	}
	if !bracedGUID.MatchString(packageCode) {
		return fmt.Errorf("package code %q is not an upper-case GUID", packageCode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := patchSummary(data, packageCode, t); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, data, 0o644)
}

// patchSummary edits data, a whole MSI file, in place.
func patchSummary(data []byte, packageCode string, t time.Time) error {
	i := bytes.Index(data, fmtidSummaryInformation)
	if i < 28 || bytes.Contains(data[i+1:], fmtidSummaryInformation) {
		return errors.New("summary information stream not found exactly once")
	}
	stream := data[i-28:] // header: byte order, version, system, CLSID, count, FMTID, offset
	le := binary.LittleEndian
	if le.Uint16(stream) != 0xFFFE || le.Uint32(stream[24:]) != 1 {
		return errors.New("not a property set stream with one section")
	}
	sec := int(le.Uint32(stream[44:]))
	if sec+8 > len(stream) {
		return errors.New("section offset out of range")
	}
	section := stream[sec:]
	size, n := int(le.Uint32(section)), int(le.Uint32(section[4:]))
	if size > len(section) || 8+8*n > size {
		return errors.New("section size out of range")
	}
	// 100-nanosecond intervals since 1601-01-01 UTC.
	filetime := uint64(t.Unix()+11644473600) * 1e7
	found := 0
	for k := 0; k < n; k++ {
		id, off := le.Uint32(section[8+8*k:]), int(le.Uint32(section[12+8*k:]))
		if off+8 > size {
			return fmt.Errorf("property %d out of range", id)
		}
		v := section[off:size]
		switch id {
		case pidRevNumber:
			if le.Uint32(v) != vtLPSTR || int(le.Uint32(v[4:])) != len(packageCode)+1 || 8+len(packageCode) > len(v) ||
				!bracedGUID.Match(bytes.ToUpper(v[8:8+len(packageCode)])) {
				return errors.New("revision number is not a GUID string")
			}
			copy(v[8:], packageCode)
			found++
		case pidCreateDTM, pidSaveDTM:
			if le.Uint32(v) != vtFILETIME || len(v) < 12 {
				return fmt.Errorf("property %d is not a FILETIME", id)
			}
			le.PutUint64(v[4:], filetime)
			found++
		}
	}
	if found != 3 {
		return fmt.Errorf("found %d of the 3 summary properties to set", found)
	}
	return nil
}
