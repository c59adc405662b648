//go:build !linux

package server

import (
	"errors"
	"syscall"
)

// pushSupported: push streams need Linux's non-blocking writev and epoll;
// elsewhere every stream has its own goroutine.
const pushSupported = false

const maxIOV = 1024

var errNoPush = errors.New("push streams need Linux")

func writevNow(syscall.RawConn, [][]byte) (int, error) { return 0, errNoPush }

type hangupWatcher struct{}

func newHangupWatcher(func(*pushConn)) (*hangupWatcher, error) { return nil, errNoPush }
func (*hangupWatcher) watch(*pushConn) error                   { return errNoPush }
func (*hangupWatcher) forget(*pushConn)                        {}
func (*hangupWatcher) close()                                  {}
