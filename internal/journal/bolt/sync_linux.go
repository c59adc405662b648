package bolt

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and its size only if that changed.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
