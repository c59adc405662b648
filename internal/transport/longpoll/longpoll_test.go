package longpoll

import (
	"testing"
	"time"
)

func TestParseWait(t *testing.T) {
	const maxWait = 30 * time.Second
	for v, want := range map[string]time.Duration{
		"": maxWait, "0": 0, "0.25": 250 * time.Millisecond, "1.0005": 1001 * time.Millisecond,
		"12": 12 * time.Second, "30": maxWait, "3600": maxWait, "99999999999999": maxWait,
	} {
		if got, err := ParseWait(v, maxWait); err != nil || got != want {
			t.Errorf("ParseWait(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"-1", "abc", "1e3", "NaN", "Inf", "0x10", "1s", " 1", "1.2.3", "12345678901234567"} {
		if _, err := ParseWait(v, maxWait); err == nil {
			t.Errorf("ParseWait(%q) accepted", v)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for v, want := range map[string]int{"": DefaultLimit, "1": 1, "1000": MaxLimit} {
		if got, err := ParseLimit(v); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"0", "-1", "1001", "x", "1.5"} {
		if _, err := ParseLimit(v); err == nil {
			t.Errorf("ParseLimit(%q) accepted", v)
		}
	}
}
