//go:build !linux

package bench

import (
	"context"
	"errors"
)

var errNotDetachable = errors.New("stream not readable by a reactor")

// readers are the reactors of reactor_linux.go; elsewhere every stream
// has a goroutine of its own.
type readers struct{}

func newReaders(context.Context) (*readers, error) { return nil, errNotDetachable }

func (*readers) wait() {}

func (*readers) read(*stream, func(id, data []byte, now int64)) (<-chan error, func(), error) {
	return nil, nil, errNotDetachable
}
