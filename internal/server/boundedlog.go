package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// boundedLog logs at a bounded rate, so that an attack (refused
// requests) or a lasting fault (a full disk failing every readiness
// probe) costs a few lines a second, not one per request. The lines it
// drops are counted in one summary line a second later.
type boundedLog struct {
	log     *slog.Logger
	limiter *rate.Limiter
	mu      sync.Mutex
	dropped int
}

func newBoundedLog(log *slog.Logger) *boundedLog {
	return &boundedLog{log: log, limiter: rate.NewLimiter(5, 10)}
}

// Info logs at level Info unless too many lines were logged lately.
func (l *boundedLog) Info(msg string, args ...any) { l.logAt(slog.LevelInfo, msg, args) }

// Warn logs at level Warn unless too many lines were logged lately.
func (l *boundedLog) Warn(msg string, args ...any) { l.logAt(slog.LevelWarn, msg, args) }

func (l *boundedLog) logAt(level slog.Level, msg string, args []any) {
	if l.limiter.Allow() {
		l.log.Log(context.Background(), level, msg, args...)
		return
	}
	l.mu.Lock()
	l.dropped++
	first := l.dropped == 1
	l.mu.Unlock()
	if first {
		time.AfterFunc(time.Second, l.summarize)
	}
}

// summarize logs how many lines were dropped.
func (l *boundedLog) summarize() {
	l.mu.Lock()
	n := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	l.log.Info("log lines left out (too many a second)", "count", n)
}
