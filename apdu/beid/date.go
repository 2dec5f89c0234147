package beid

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// IsZero reports whether d carries no date at all.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as ISO 8601 (2006-01-02), shortened to 2006-01 or 2006
// when the day or the month is unknown, and to the empty string for the zero
// Date. A known day with an unknown month shows as 2006-00-02.
func (d Date) String() string {
	switch {
	case d.IsZero():
		return ""
	case d.Month == 0 && d.Day == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// valid reports whether d is a possibly partial but real calendar date.
func (d Date) valid() bool {
	if d.IsZero() {
		return true
	}
	if d.Year < 1 || d.Year > 9999 || d.Month < 0 || d.Month > 12 || d.Day < 0 || d.Day > 31 {
		return false
	}
	if d.Month == 0 || d.Day == 0 {
		return true
	}
	// time.Date normalises 30 February into March; a real date survives.
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	return t.Day() == d.Day
}

// parseNumericDate reads the DD.MM.YYYY form of the validity dates.
func parseNumericDate(s string) (Date, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || len(parts[2]) != 4 {
		return Date{}, fmt.Errorf("%w: date not in DD.MM.YYYY form", ErrMalformed)
	}
	var n [3]int
	for i, p := range parts {
		v, ok := digits(p, 1, 4)
		if !ok {
			return Date{}, fmt.Errorf("%w: date not in DD.MM.YYYY form", ErrMalformed)
		}
		n[i] = v
	}
	d := Date{Year: n[2], Month: time.Month(n[1]), Day: n[0]}
	if d.Day == 0 || d.Month == 0 || !d.valid() {
		return Date{}, fmt.Errorf("%w: no such date", ErrMalformed)
	}
	return d, nil
}

func formatNumericDate(d Date) string {
	return fmt.Sprintf("%02d.%02d.%04d", d.Day, int(d.Month), d.Year)
}

// digits parses s as a decimal number of min to max ASCII digits.
func digits(s string, min, max int) (int, bool) {
	if len(s) < min || len(s) > max {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.Atoi(s)
	return v, err == nil
}

// Month abbreviations as the card prints them. The card writes the birth
// date in the language of the issuing municipality.
var birthMonths = map[string][12]string{
	"nl": {"JAN", "FEB", "MAAR", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC"},
	"fr": {"JAN", "FEV", "MARS", "AVR", "MAI", "JUIN", "JUIL", "AOUT", "SEPT", "OCT", "NOV", "DEC"},
	"de": {"JAN", "FEB", "MÄR", "APR", "MAI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEZ"},
}

// monthByName accepts the abbreviations of all three languages and a few
// spellings seen outside the card documents (English MAR, Dutch MRT, French
// with accents). It is read-only after initialisation.
var monthByName = func() map[string]time.Month {
	m := map[string]time.Month{
		"MAR": time.March, "MRT": time.March,
		"FÉV": time.February, "AOÛT": time.August, "DÉC": time.December,
	}
	for _, names := range birthMonths {
		for i, n := range names {
			m[n] = time.Month(i + 1)
		}
	}
	return m
}()

// ParseBirthDate reads a birth date as the identity file prints it: French
// and Dutch "DD mmmm YYYY", German "DD.mmm.YYYY", with any amount of
// padding. Dates the National Register knows only in part come out with
// zero fields: "JAN 1950" or "00 JAN 1950" has no day, a blank month gives
// month 0, and "1950" alone only a year. Anything else is ErrMalformed.
func ParseBirthDate(s string) (Date, error) {
	s = strings.Trim(s, " \x00")
	if s == "" {
		return Date{}, nil
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '.' })
	if len(fields) == 0 || len(fields) > 3 {
		return Date{}, fmt.Errorf("%w: birth date: expected day, month and year", ErrMalformed)
	}
	var d Date
	var ok bool
	if d.Year, ok = digits(fields[len(fields)-1], 4, 4); !ok || d.Year == 0 {
		return Date{}, fmt.Errorf("%w: birth date: no four-digit year at the end", ErrMalformed)
	}
	rest := fields[:len(fields)-1]
	if len(rest) == 2 {
		day, ok := digits(rest[0], 1, 2)
		if !ok {
			return Date{}, fmt.Errorf("%w: birth date: bad day", ErrMalformed)
		}
		d.Day = day
		rest = rest[1:]
	}
	if len(rest) == 1 {
		f := rest[0]
		if m, ok := monthByName[strings.ToUpper(f)]; ok {
			d.Month = m
		} else if n, ok := digits(f, 1, 2); ok {
			if len(fields) == 3 {
				// DD.MM.YYYY: a numeric month, not what the card
				// writes, but unambiguous.
				if n > 12 {
					return Date{}, fmt.Errorf("%w: birth date: bad month", ErrMalformed)
				}
				d.Month = time.Month(n)
			} else {
				// "15      1950": a day with a blank month.
				d.Day = n
			}
		} else {
			return Date{}, fmt.Errorf("%w: birth date: unknown month", ErrMalformed)
		}
	}
	if !d.valid() {
		return Date{}, fmt.Errorf("%w: birth date: no such date", ErrMalformed)
	}
	return d, nil
}

// FormatBirthDate writes d the way real cards print birth dates in lang
// ("nl", "fr" or "de"; anything else is taken as "nl"), as in the identity
// files of commons-eid's test data: Dutch "02 MAAR 1990", French with the
// month padded to four letters "26 AVR  1975" and "29 SEPT 1979", German
// "22.DEZ. 1997". Unknown parts are left out, so a date with only a year
// formats as "1990". The zero Date formats as "".
func FormatBirthDate(d Date, lang string) string {
	if d.IsZero() {
		return ""
	}
	lang = strings.ToLower(lang)
	names, ok := birthMonths[lang]
	if !ok {
		lang, names = "nl", birthMonths["nl"]
	}
	var b strings.Builder
	if d.Day != 0 {
		fmt.Fprintf(&b, "%02d", d.Day)
		if lang == "de" {
			b.WriteByte('.')
		} else {
			b.WriteByte(' ')
		}
	}
	if d.Month >= 1 && d.Month <= 12 {
		m := names[d.Month-1]
		switch lang {
		case "de":
			m += ". "
		case "fr":
			m += strings.Repeat(" ", 5-utf8.RuneCountInString(m))
		default:
			m += " "
		}
		b.WriteString(m)
	} else if lang == "de" && d.Day != 0 {
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%04d", d.Year)
	return b.String()
}

// partialBirthDate is what ParseIdentity keeps of a birth date that
// ParseBirthDate refuses: the four-digit year at the end and a day in
// front, with month 0, as eid-mw (plugins_tools/eid-viewer/conversions/
// dob.cpp) reads a month it does not know. It is the zero Date when even
// that is not there.
func partialBirthDate(s string) Date {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '.' })
	if len(fields) == 0 {
		return Date{}
	}
	var d Date
	var ok bool
	if d.Year, ok = digits(fields[len(fields)-1], 4, 4); !ok || d.Year == 0 {
		return Date{}
	}
	if len(fields) == 3 {
		if day, ok := digits(fields[0], 1, 2); ok && day <= 31 {
			d.Day = day
		}
	}
	return d
}
