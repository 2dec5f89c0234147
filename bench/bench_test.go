package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatTimes(t *testing.T) {
	for _, tc := range []struct {
		line         string
		utime, stime int64
		ok           bool
	}{
		{"23379 (pcscd) S 1 23379 23379 0 -1 4194560 15761 0 0 0 33 345 0 0 20 0 5 0", 33, 345, true},
		// The command name may hold spaces and parentheses.
		{"7 (a b) c) (d) R 1 7 7 0 -1 0 0 0 0 0 12 34 0 0 20 0 1 0", 12, 34, true},
		{"7 (x) R 1 7", 0, 0, false},
		{"no parenthesis", 0, 0, false},
		{"7 (x) R 1 7 7 0 -1 0 0 0 0 0 u s 0", 0, 0, false},
	} {
		u, s, err := parseStatTimes(tc.line)
		if (err == nil) != tc.ok || u != tc.utime || s != tc.stime {
			t.Errorf("parseStatTimes(%q) = %d, %d, %v; want %d, %d, ok %v", tc.line, u, s, err, tc.utime, tc.stime, tc.ok)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   int64
		ok     bool
	}{
		{"Name:\tcardbridge\nVmPeak:\t  1000 kB\nVmRSS:\t   10340 kB\nThreads:\t8\n", 10340 << 10, true},
		{"Name:\tx\n", 0, false},
		{"VmRSS:\t12 MB\n", 0, false},
	} {
		got, err := parseVmRSS(tc.status)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, ok %v", tc.status, got, err, tc.want, tc.ok)
		}
	}
}

func TestMedianPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		in           []time.Duration
		median       time.Duration
		p50, p99, p1 time.Duration
	}{
		{nil, 0, 0, 0, 0},
		{ms(5), 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		{ms(3, 1, 2), 2 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, time.Millisecond},
		{ms(4, 1, 3, 2), 2500 * time.Microsecond, 2 * time.Millisecond, 4 * time.Millisecond, time.Millisecond},
	} {
		in := append([]time.Duration(nil), tc.in...)
		if got := median(in); got != tc.median {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.median)
		}
		for _, p := range []struct {
			p    float64
			want time.Duration
		}{{50, tc.p50}, {99, tc.p99}, {1, tc.p1}} {
			if got := percentile(in, p.p); got != p.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, p.p, got, p.want)
			}
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("median or percentile reordered its input")
			}
		}
	}
	// 100 values 1..100 ms: p99 is the 99th.
	var hundred []time.Duration
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	if got := percentile(hundred, 99); got != 99*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v", got)
	}
}

func TestReportAdvisory(t *testing.T) {
	var b strings.Builder
	r := &report{w: &b, advisory: "a,c"}
	r.figure("(a) ratio", "≤ 1", "2", false)
	r.figure("(b) count", "= 1", "2", false)
	r.figure("(c) latency", "≤ 1", "0", true)
	if r.missed != 1 || r.advised != 1 || r.n != 3 {
		t.Errorf("missed %d, advised %d, n %d; want 1, 1, 3", r.missed, r.advised, r.n)
	}
	if out := b.String(); !strings.Contains(out, "MISS (advisory)") || strings.Count(out, "MISS") != 2 || !strings.Contains(out, "PASS") {
		t.Errorf("report:\n%s", out)
	}
}
