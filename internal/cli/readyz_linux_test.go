package cli_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heraldhub/herald/internal/testutil"
)

// TestReadyzFollowsJournalWrites runs `herald serve` in a process of its
// own and takes from it the room to grow its journal: RLIMIT_FSIZE set to
// the file's size makes every write past the end fail with EFBIG (Go
// ignores SIGXFSZ), as a full disk would. Readiness must say so while
// publishes fail, and come back once there is room again, without a
// publish to show it.
func TestReadyzFollowsJournalWrites(t *testing.T) {
	data := filepath.Join(t.TempDir(), "herald.db")
	r, pid := serveProcess(t, "--data", data, "--log-level", "error")
	// A publish larger than what bbolt frees inside the file on every
	// commit, so that it needs the file to grow.
	payload := strings.Repeat("x", 256<<10)
	if status, _ := publishData(t, r, payload); status != http.StatusOK {
		t.Fatalf("publish before the limit: %d", status)
	}

	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	var before unix.Rlimit
	limit := unix.Rlimit{Cur: uint64(fi.Size()), Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &limit, &before); err != nil {
		t.Skipf("prlimit(RLIMIT_FSIZE) of a child not permitted here: %v", err)
	}
	raised := false
	t.Cleanup(func() {
		if !raised {
			_ = unix.Prlimit(pid, unix.RLIMIT_FSIZE, &before, nil)
		}
	})

	// bbolt grows its file in chunks of 16 MiB; fill the chunk.
	failed := false
	for i := 0; i < 200 && !failed; i++ {
		status, h := publishData(t, r, payload)
		switch status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			failed = true
			if h.Get("Retry-After") == "" {
				t.Errorf("publish answered 503 without Retry-After")
			}
		default:
			t.Fatalf("publish %d: %d, want 200 or 503", i, status)
		}
	}
	if !failed {
		t.Fatalf("200 publishes of 256 KiB went through a journal limited to %d bytes", fi.Size())
	}

	// Not ready while the journal cannot write: right after the failed
	// publish, and still after the journal has probed the disk again
	// (at most once a second) without a publish to tell it.
	holdsFor(t, 1500*time.Millisecond, 50*time.Millisecond, func() error {
		status, h := get(t, r.base+"/readyz")
		if status != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz answered %d while the journal cannot grow, want 503", status)
		}
		if h.Get("Retry-After") == "" {
			return fmt.Errorf("/readyz answered 503 without Retry-After")
		}
		return nil
	})

	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &before, nil); err != nil {
		t.Fatal(err)
	}
	raised = true
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if status, _ := get(t, r.base+"/readyz"); status != http.StatusOK {
			return fmt.Errorf("/readyz answered %d after the disk had room again, want 200", status)
		}
		return nil
	})
	if status, _ := publishData(t, r, payload); status != http.StatusOK {
		t.Errorf("publish once ready again: %d, want 200", status)
	}
	if code := r.stop(); code != 0 {
		t.Errorf("serve exited %d: %s", code, r.stderr)
	}
}

// serveProcess runs `herald serve` as a child process (the test binary
// running Main; see TestMain) and waits until it is ready. Its stop sends
// SIGTERM and waits for the exit code; the child is killed if the test
// ends otherwise.
func serveProcess(t *testing.T, args ...string) (*running, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	cmd := exec.Command(exe, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			exited <- 0
		case errors.As(err, &ee):
			exited <- ee.ExitCode()
		default:
			exited <- -1
		}
	}()
	var once sync.Once
	var code int
	r.stop = func() int {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case code = <-exited:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				code = <-exited
				t.Errorf("serve did not stop within 15s of SIGTERM; killed")
			}
		})
		return code
	}
	t.Cleanup(func() { r.stop() })
	r.waitReady(t, exited)
	return r, cmd.Process.Pid
}

// publishData publishes data on topic t with the printed token and returns
// the status and headers of the answer.
func publishData(t *testing.T, r *running, data string) (int, http.Header) {
	t.Helper()
	form := url.Values{"topic": {"t"}, "data": {data}}
	req, err := http.NewRequest("POST", r.base+"/.well-known/mercure", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+r.token)
	return do(t, req)
}

func get(t *testing.T, url string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
