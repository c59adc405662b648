package push_test

import (
	"sync"
	"sync/atomic"
)

// source is a scripted stream: frames to hand out, an end to announce.
type source struct {
	mu      sync.Mutex
	frames  [][]byte
	err     error
	done    chan struct{}
	ready   chan struct{}
	goodbye []byte
	closed  chan error // receives the reason given to Closed
	wake    func()
	sent    atomic.Int64 // bytes written, as the writers told (push.Meter)
}

func newSource() *source {
	return &source{done: make(chan struct{}), ready: make(chan struct{}, 1), closed: make(chan error, 2)}
}

func (s *source) Frames(dst [][]byte) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst, s.frames...)
	s.frames = nil
	return dst
}
func (s *source) Sent(n int)             { s.sent.Add(int64(n)) }
func (s *source) Heartbeat() []byte      { return []byte(":\n") }
func (s *source) Goodbye(error) []byte   { return s.goodbye }
func (s *source) Ready() <-chan struct{} { return s.ready }
func (s *source) Done() <-chan struct{}  { return s.done }
func (s *source) Closed(reason error)    { s.closed <- reason }
func (s *source) setWake(fn func())      { s.mu.Lock(); s.wake = fn; s.mu.Unlock() }
func (s *source) Err() error             { s.mu.Lock(); defer s.mu.Unlock(); return s.err }
func (s *source) signal(fn func(*source)) {
	s.mu.Lock()
	fn(s)
	w := s.wake
	s.mu.Unlock()
	s.notify(w)
}
func (s *source) notify(w func()) { notify(s.ready, w) }
func notify(ready chan struct{}, wake func()) {
	select {
	case ready <- struct{}{}:
	default:
	}
	if wake != nil {
		wake()
	}
}

// send queues a frame and wakes the writer.
func (s *source) send(frame string) {
	s.signal(func(s *source) { s.frames = append(s.frames, []byte(frame)) })
}

// end ends the stream for reason.
func (s *source) end(reason error) {
	s.signal(func(s *source) {
		s.err = reason
		close(s.done)
	})
}
