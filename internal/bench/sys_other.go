//go:build !unix

package bench

// raiseFileLimit has nothing to raise where there are no rlimits; zero means
// the limit is unknown.
func raiseFileLimit() (uint64, error) { return 0, nil }

// ownCPU is unknown where there is no getrusage.
func ownCPU() (float64, bool) { return 0, false }
