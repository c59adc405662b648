package client

import "time"

// backoff returns how long to wait before reconnection attempt n, counted
// from 1 since the last good connection, when the stream's reconnection time
// is base and the backoff may grow to ceiling.
//
// The first attempt waits exactly base, as a browser does: a server that
// sets `retry:` is obeyed to the millisecond. Each further consecutive
// attempt doubles the delay up to ceiling (never below base, so a large
// `retry:` still wins) and draws the wait uniformly from the upper half of
// it, so that clients dropped together by a restarting server do not come
// back in lockstep. rnd(n) returns a number in [0, n).
func backoff(base, ceiling time.Duration, n int, rnd func(int64) int64) time.Duration {
	if n <= 1 || base <= 0 {
		return max(base, 0)
	}
	ceiling = max(ceiling, base)
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling // doubling would pass the ceiling, or overflow
			break
		}
		d *= 2
	}
	half := d / 2
	return max(base, d-half+time.Duration(rnd(int64(half)+1)))
}
