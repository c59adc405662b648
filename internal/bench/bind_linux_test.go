package bench

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A subscriber dialled from a rotated source address leaves the choice of
// its port to connect: bind's own search slows down with every socket
// bound to the address.
func TestDialFromSourceDefersThePort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	sources := chooseSources("auto", netip.MustParseAddrPort(l.Addr().String()))
	if len(sources) == 0 {
		t.Skip("127.0.0.2-9 cannot be bound here")
	}
	tg, err := newTarget(targetSpec{Hub: "http://" + l.Addr().String() + "/", Addr: l.Addr().String(), Sources: sources[:1]})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tg.dialTCP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ip := conn.LocalAddr().(*net.TCPAddr).IP.String(); ip != sources[0] {
		t.Errorf("dialled from %s, want %s", ip, sources[0])
	}
	raw, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if v != 1 {
		t.Errorf("IP_BIND_ADDRESS_NO_PORT = %d on a socket dialled from a source address, want 1", v)
	}
}
