//go:build race

package hub_test

// The race detector changes allocation counts.
const raceEnabled = true
