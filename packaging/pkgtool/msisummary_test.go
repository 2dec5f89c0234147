package main

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

// summaryStream builds a property set stream with one section holding the
// given properties (ID → type and value bytes), between filler bytes, as
// it sits inside a compound file.
func summaryStream(props map[uint32][]byte) []byte {
	le := binary.LittleEndian
	var head bytes.Buffer
	head.Write([]byte{0xFE, 0xFF, 0, 0, 6, 2, 1, 0}) // byte order, version, system
	head.Write(make([]byte, 16))                     // CLSID
	binary.Write(&head, le, uint32(1))
	head.Write(fmtidSummaryInformation)
	binary.Write(&head, le, uint32(48))
	ids := []uint32{}
	for id := range props {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var index, values bytes.Buffer
	off := 8 + 8*len(ids)
	for _, id := range ids {
		binary.Write(&index, le, id)
		binary.Write(&index, le, uint32(off+values.Len()))
		values.Write(props[id])
	}
	var sec bytes.Buffer
	binary.Write(&sec, le, uint32(8+index.Len()+values.Len()))
	binary.Write(&sec, le, uint32(len(ids)))
	sec.Write(index.Bytes())
	sec.Write(values.Bytes())
	file := append(bytes.Repeat([]byte{0xAA}, 100), head.Bytes()...)
	file = append(file, sec.Bytes()...)
	return append(file, bytes.Repeat([]byte{0xBB}, 100)...)
}

func lpstr(s string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, vtLPSTR)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)+1))
	return append(append(b, s...), 0, 0, 0, 0) // NUL and padding to 4 bytes
}

func filetime(v uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, vtFILETIME)
	return binary.LittleEndian.AppendUint64(b, v)
}

func TestPatchSummary(t *testing.T) {
	const code = "{0123ABCD-4567-589A-8BCD-EF0123456789}"
	at := time.Date(2026, 11, 25, 18, 23, 6, 0, time.UTC)
	props := map[uint32][]byte{
		2:            lpstr("cardbridge"),
		pidRevNumber: lpstr("{8c5854f9-1e7a-4173-9c87-a5c913e04cca}"),
		pidCreateDTM: filetime(1),
		pidSaveDTM:   filetime(2),
	}
	data := summaryStream(props)
	if err := patchSummary(data, code, at); err != nil {
		t.Fatal(err)
	}
	// 2026-11-25T18:23:06Z, Unix 1795630986, in 100 ns intervals since
	// 1601: (1795630986 + 11644473600) × 10⁷ (msiinfo suminfo shows the
	// patched MSI's time as that date).
	want := summaryStream(map[uint32][]byte{
		2:            lpstr("cardbridge"),
		pidRevNumber: lpstr(code),
		pidCreateDTM: filetime(134401045860000000),
		pidSaveDTM:   filetime(134401045860000000),
	})
	if !bytes.Equal(data, want) {
		t.Errorf("patched stream:\n% x\nwant:\n% x", data, want)
	}

	for name, p := range map[string]map[uint32][]byte{
		"no save time":       {pidRevNumber: props[pidRevNumber], pidCreateDTM: props[pidCreateDTM]},
		"revision not GUID":  {pidRevNumber: lpstr("not a guid, but 38 characters long...."), pidCreateDTM: props[pidCreateDTM], pidSaveDTM: props[pidSaveDTM]},
		"revision too short": {pidRevNumber: lpstr("{1}"), pidCreateDTM: props[pidCreateDTM], pidSaveDTM: props[pidSaveDTM]},
		"time not FILETIME":  {pidRevNumber: props[pidRevNumber], pidCreateDTM: lpstr("yesterday"), pidSaveDTM: props[pidSaveDTM]},
	} {
		if err := patchSummary(summaryStream(p), code, at); err == nil {
			t.Errorf("%s: patched without error", name)
		}
	}
	twice := append(summaryStream(props), summaryStream(props)...)
	if err := patchSummary(twice, code, at); err == nil {
		t.Error("two summary streams: patched without error")
	}
	if err := patchSummary(bytes.Repeat([]byte{0}, 200), code, at); err == nil {
		t.Error("no summary stream: patched without error")
	}
}
