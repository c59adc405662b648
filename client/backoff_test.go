package client

import (
	"math"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	lowest := func(n int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		base, ceiling time.Duration
		n             int
		lo, hi        time.Duration
	}{
		{time.Second, time.Minute, 1, time.Second, time.Second},
		{time.Second, time.Minute, 2, time.Second, 2 * time.Second},
		{time.Second, time.Minute, 4, 4 * time.Second, 8 * time.Second},
		{time.Second, 10 * time.Second, 5, 5 * time.Second, 10 * time.Second},
		{time.Second, 10 * time.Second, math.MaxInt, 5 * time.Second, 10 * time.Second},
		// A reconnection time above the ceiling is kept, never shortened
		// by the jitter: the server wins.
		{time.Minute, time.Second, 3, time.Minute, time.Minute},
		// Near the largest Duration nothing overflows.
		{math.MaxInt64 / 3, math.MaxInt64, 10, math.MaxInt64 / 2, math.MaxInt64},
		{0, time.Second, 3, 0, 0},
	}
	for _, tt := range tests {
		lo := backoff(tt.base, tt.ceiling, tt.n, lowest)
		hi := backoff(tt.base, tt.ceiling, tt.n, highest)
		if lo < tt.lo || lo > tt.lo+1 || hi != tt.hi {
			t.Errorf("backoff(%v, %v, %d) spans [%v, %v], want [%v, %v]", tt.base, tt.ceiling, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
}
