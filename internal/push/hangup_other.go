//go:build !linux

package push

import (
	"errors"
	"syscall"
)

// Supported reports whether this system has what a [Pool] needs: Linux's
// non-blocking writev and epoll. Elsewhere every stream uses [Stream].
const Supported = false

const maxIOV = 1024

var errNoPush = errors.New("push: pools need Linux")

func writevNow(syscall.RawConn, [][]byte) (int, error) { return 0, errNoPush }
func readNow(syscall.RawConn, []byte) (int, error)     { return 0, errNoPush }

type hangupWatcher struct{}

func newHangupWatcher(func(*Conn)) (*hangupWatcher, error) { return nil, errNoPush }
func (*hangupWatcher) watch(*Conn) error                   { return errNoPush }
func (*hangupWatcher) forget(*Conn)                        {}
func (*hangupWatcher) rearm(*Conn) error                   { return errNoPush }
func (*hangupWatcher) close()                              {}
