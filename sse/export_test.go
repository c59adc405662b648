package sse

// BufferCap returns the size of d's read buffer, for the memory tests.
func BufferCap(d *Decoder) int { return cap(d.buf) }
