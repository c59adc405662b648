package state

import (
	"crypto/rand"
	"time"
)

// pushAlphabet orders as bytes do, so push IDs sort as strings in the
// order they were made (Firebase's alphabet, so IDs look alike).
const pushAlphabet = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// pushIDs makes the keys of POST: 20 characters, 8 of the time in
// milliseconds then 12 random ones, as Firebase's push IDs are. Within one
// millisecond the random part is incremented instead of drawn again, so
// IDs made by one store sort in the order made even then. Not safe for
// concurrent use (the store's lock guards it).
type pushIDs struct {
	lastTime int64
	random   [12]byte // indices into pushAlphabet
}

func (g *pushIDs) next(now time.Time) string {
	ms := now.UnixMilli()
	if ms < g.lastTime {
		// The clock stepped back: stay in the last millisecond so that
		// order holds.
		ms = g.lastTime
	}
	if ms == g.lastTime {
		g.increment()
	} else {
		g.lastTime = ms
		var b [12]byte
		_, _ = rand.Read(b[:])
		for i := range b {
			// Clear the top bit: in a run of increments from here,
			// overflowing all 12 places would take 2^66 IDs.
			g.random[i] = b[i] % 64
		}
		g.random[0] &= 31
	}
	var id [20]byte
	t := ms
	for i := 7; i >= 0; i-- {
		id[i] = pushAlphabet[t%64]
		t /= 64
	}
	for i, r := range g.random {
		id[8+i] = pushAlphabet[r]
	}
	return string(id[:])
}

// increment adds one to the random part, carrying.
func (g *pushIDs) increment() {
	for i := len(g.random) - 1; i >= 0; i-- {
		if g.random[i] < 63 {
			g.random[i]++
			return
		}
		g.random[i] = 0
	}
}
