//go:build !linux

package push

import (
	"errors"
	"net"
)

// Supported reports whether this system has what a [Pool] needs: Linux's
// non-blocking writev and epoll. Elsewhere every stream uses [Stream].
const Supported = false

const maxIOV = 1024

var errNoPush = errors.New("push: pools need Linux")

// DetachFD is Linux only (see hangup_linux.go).
func DetachFD(tcp *net.TCPConn) (int, error) { tcp.Close(); return -1, errNoPush }
func netConn(int) (*net.TCPConn, error)      { return nil, errNoPush }
func closeFD(int)                            {}
func writevNow(int, [][]byte) (int, error)   { return 0, errNoPush }
func readNow(int, []byte) (int, error)       { return 0, errNoPush }

type hangupWatcher struct{}

func newHangupWatcher(func(*Conn)) (*hangupWatcher, error) { return nil, errNoPush }
func (*hangupWatcher) watch(*Conn) error                   { return errNoPush }
func (*hangupWatcher) forget(*Conn)                        {}
func (*hangupWatcher) rearm(*Conn) error                   { return errNoPush }
func (*hangupWatcher) close()                              {}
