package testutil

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeT is a testing.TB whose failures and cleanups the test inspects.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	failure  string
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failure = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn as a test body, then the cleanups, on a goroutine of its
// own as package testing does, and returns the failure message.
func (f *fakeT) run(fn func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(f.cleanups) - 1; i >= 0; i-- {
				f.cleanups[i]()
			}
		}()
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failure
}

func TestCheckForPolls(t *testing.T) {
	calls := 0
	CheckFor(t, WaitTimeout, time.Millisecond, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("fn called %d times, want 3 (until it returns nil)", calls)
	}
}

func TestCheckForFailsWithLastError(t *testing.T) {
	ft := &fakeT{}
	calls := 0
	msg := ft.run(func() {
		CheckFor(ft, 20*time.Millisecond, time.Millisecond, func() error {
			calls++
			return fmt.Errorf("attempt %d failed", calls)
		})
	})
	if want := fmt.Sprintf("attempt %d failed", calls); calls < 2 || !strings.Contains(msg, want) {
		t.Errorf("after %d calls the failure is %q, want it to hold %q", calls, msg, want)
	}
}
