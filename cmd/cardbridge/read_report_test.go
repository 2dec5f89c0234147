package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/apdu/beid"
)

// TestReportOddFields: a card with fields in a form they should not have
// reads, and the report names those fields without failing the card.
func TestReportOddFields(t *testing.T) {
	id, err := beid.ParseIdentity([]byte("\x07\x07Peeters\x0C\x0B01 FOO 1990\x0D\x01X"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := beid.ParseAddress([]byte("\x01\x0DKerkstraat 1 \x02\x049000"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printReport(&out, &readReport{Identity: id, Address: addr}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Odd fields:          birthDate, sex\n") {
		t.Errorf("report:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Kerkstraat 1, 9000") {
		t.Errorf("street not trimmed:\n%s", out.String())
	}
}
