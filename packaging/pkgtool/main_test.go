package main

import "testing"

func TestUUID5(t *testing.T) {
	for _, c := range []struct{ ns, name, want string }{
		// RFC 9562's DNS namespace; the value Python's uuid.uuid5 gives.
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", "886313E1-3B8A-5372-9B90-0C9AEE199E5D"},
		{"{0D858B28-04AB-4D30-BF1F-BF9A280E6A21}", "0.1.0", ""},
	} {
		got, err := uuid5(c.ns, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if c.want != "" && got != c.want {
			t.Errorf("uuid5(%s, %s) = %s; want %s", c.ns, c.name, got, c.want)
		}
		if got[14] != '5' || (got[19] != '8' && got[19] != '9' && got[19] != 'A' && got[19] != 'B') {
			t.Errorf("uuid5(%s, %s) = %s: not a version 5 RFC 9562 UUID", c.ns, c.name, got)
		}
	}
	a, _ := uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "0.1.0")
	b, _ := uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "0.1.1")
	if a == b {
		t.Error("two versions got the same ProductCode")
	}
	if _, err := uuid5("not-a-uuid", "x"); err == nil {
		t.Error("a malformed namespace was accepted")
	}
}
