package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort makes the kernel choose a dialled socket's source port when it
// connects rather than when it is bound to its source address
// (IP_BIND_ADDRESS_NO_PORT). bind alone must find a port that no socket of
// the address holds, and its search grows with every socket bound: 18,000
// subscribers from 8 source addresses took 18 s of system time per
// process here. connect needs only a port free for the one destination.
// The option is a speed-up: where it cannot be set, bind chooses.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
}
