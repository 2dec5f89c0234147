package beid

import (
	"encoding/json"
	"testing"
	"time"
)

func TestIdentityJSON(t *testing.T) {
	id := &Identity{
		CardNumber:     "591234567829",
		ChipNumber:     []byte{0x53, 0x4c, 0xab},
		ValidFrom:      Date{2022, time.June, 1},
		ValidUntil:     Date{2032, time.June, 1},
		NationalNumber: "85073003328",
		Surname:        "Dupont",
		BirthDate:      Date{Year: 1985},
		DocumentType:   "01",
		Sex:            "F",
	}
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cardNumber":       "591234567829",
		"chipNumber":       "534CAB",
		"validFrom":        "2022-06-01",
		"validUntil":       "2032-06-01",
		"nationalNumber":   "85073003328",
		"surname":          "Dupont",
		"birthDate":        "1985",
		"documentTypeName": DocumentTypeName("01"),
		"sex":              "F",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, absent := range []string{"photoHash", "memberOfFamily", "euCardStartDate", "basicKeyHash"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s present for a card without it: %s", absent, b)
		}
	}
}

// TestDateJSON pins the protocol's date forms, partial dates included.
func TestDateJSON(t *testing.T) {
	for _, tc := range []struct {
		d    Date
		want string
	}{
		{Date{}, `""`},
		{Date{1990, time.May, 17}, `"1990-05-17"`},
		{Date{Year: 1990, Month: time.May}, `"1990-05"`},
		{Date{Year: 1990}, `"1990"`},
		{Date{Year: 1950, Day: 15}, `"1950"`}, // a day without its month is not a date
	} {
		b, err := json.Marshal(tc.d)
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tc.d, b, err, tc.want)
		}
	}
	// Through the identity too, where EUCardStartDate is optional.
	b, err := json.Marshal(&Identity{BirthDate: Date{Year: 1950, Day: 15}, EUCardStartDate: Date{Year: 2019, Day: 4}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["birthDate"] != "1950" || got["euCardStartDate"] != "2019" {
		t.Errorf("birthDate %v, euCardStartDate %v", got["birthDate"], got["euCardStartDate"])
	}
}

func TestAddressJSON(t *testing.T) {
	b, err := json.Marshal(&Address{Street: "Rue Haute 1", ZipCode: "1000", Municipality: "Bruxelles"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"street":"Rue Haute 1","zipCode":"1000","municipality":"Bruxelles"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func TestInvalidFieldsJSON(t *testing.T) {
	id, err := ParseIdentity(tlv(0x07, "Peeters", 0x0C, "01 FOO 1990", 0x0D, "X", 0x0D, "Y"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		InvalidFields []string `json:"invalidFields"`
		BirthDate     string   `json:"birthDate"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.InvalidFields) != 2 || got.InvalidFields[0] != "birthDate" || got.InvalidFields[1] != "sex" || got.BirthDate != "1990" {
		t.Errorf("JSON %s", b)
	}
	good, _ := json.Marshal(&Address{Street: "Korenmarkt 1"})
	if string(good) != `{"street":"Korenmarkt 1","zipCode":"","municipality":""}` {
		t.Errorf("well-formed address JSON %s", good)
	}
}
