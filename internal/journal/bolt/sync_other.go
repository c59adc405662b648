//go:build !linux

package bolt

import "os"

// datasync flushes f.
func datasync(f *os.File) error { return f.Sync() }
