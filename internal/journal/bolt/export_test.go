package bolt

// SetWALSegmentSize makes the write-ahead log move to its other segment
// past size bytes, for the crash test's child, which is this package's
// external test binary.
func SetWALSegmentSize(size int64) { walSegmentSize = size }
