package push

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhub/herald/internal/clock"
)

// FrameWriter writes frames in order, under one write deadline, and
// flushes them (an [sse.Writer] does).
type FrameWriter interface {
	WriteFrames(frames ...[]byte) error
}

// StreamConfig tunes [Stream].
type StreamConfig struct {
	// Heartbeat is the keep-alive interval; <= 0 sends none.
	Heartbeat time.Duration
	// Clock is the source of time (default: the real clock).
	Clock clock.Clock
}

// Stream writes src to w from the calling goroutine until src ends, ctx
// ends (the client left) or a write fails, and returns why; the caller
// releases what the stream held (src.Closed is the pool's).
func Stream(ctx context.Context, w FrameWriter, src Source, cfg StreamConfig) error {
	clk := clock.Or(cfg.Clock)

	var tick chan struct{}
	if cfg.Heartbeat > 0 {
		tick = make(chan struct{}, 1)
		t := newTicker(clk, cfg.Heartbeat, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
		defer t.stop()
	}
	meter, _ := src.(Meter)
	write := func(frames ...[]byte) error {
		if meter == nil {
			return w.WriteFrames(frames...)
		}
		// Counted before: a writer may consume frames (net.Buffers does).
		n := 0
		for _, f := range frames {
			n += len(f)
		}
		if err := w.WriteFrames(frames...); err != nil {
			return err
		}
		meter.Sent(n)
		return nil
	}
	lastWrite := clk.Now()
	ready, done := src.Ready(), src.Done()
	var frames [][]byte
	for {
		select {
		case <-ready:
			frames = src.Frames(frames[:0])
			if len(frames) == 0 {
				continue
			}
			err := write(frames...)
			clear(frames)
			if err != nil {
				return err
			}
			lastWrite = clk.Now()
		case <-tick:
			if !quiet(lastWrite, clk.Now(), cfg.Heartbeat) {
				continue
			}
			if err := write(src.Heartbeat()); err != nil {
				return err
			}
			lastWrite = clk.Now()
		case <-done:
			reason := src.Err()
			if last := src.Goodbye(reason); last != nil {
				_ = write(last)
			}
			return reason
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// ticker calls f every interval on clk until stopped.
type ticker struct {
	clk      clock.Clock
	interval time.Duration
	f        func()
	mu       sync.Mutex
	timer    clock.Timer
	stopped  bool
}

func newTicker(clk clock.Clock, interval time.Duration, f func()) *ticker {
	t := &ticker{clk: clk, interval: interval, f: f}
	t.arm()
	return t
}

func (t *ticker) arm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.timer = t.clk.AfterFunc(t.interval, t.fire)
	}
}

func (t *ticker) fire() {
	t.f()
	t.arm()
}

func (t *ticker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
}
