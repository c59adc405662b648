// Package firebase proves that the Firebase Admin SDK for Go
// (firebase.google.com/go/v4, package db) works against Herald's Realtime
// Database REST API the way it works against Firebase's own emulator.
//
// Each test starts the real built binary (HERALD_BIN, default
// ../../bin/herald) with a fresh bolt file and --db-admin-token owner and --db-prefix / (the SDK addresses the root), the
// token the SDK sends to an emulator, and points the SDK at it through
// FIREBASE_DATABASE_EMULATOR_HOST. It is a module of its own so that the
// SDK's dependencies stay out of Herald's go.mod.
package firebase

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/db"
)

// adminToken is what the SDK sends as "Authorization: Bearer owner" whenever
// it talks to an emulator (firebase.google.com/go/v4/db/db.go, emulatorToken).
const adminToken = "owner"

// namespace is the database the tests use, the emulator's ?ns= parameter.
const namespace = "herald-e2e"

// waitTimeout bounds every wait for something that should happen promptly.
const waitTimeout = 10 * time.Second

// testTimeout bounds the SDK calls of one test, so a request the server
// never answers fails the test instead of hanging the run.
const testTimeout = 2 * time.Minute

// herald is one `herald serve` process, started for one test.
type herald struct {
	addr string // host:port it listens on
	log  *syncBuffer
}

// startHerald runs the binary on a free loopback port with its own bolt
// file and the admin token, waits until /readyz answers 200, and stops it
// when the test ends. It skips the test if there is no binary to run.
func startHerald(t *testing.T) *herald {
	t.Helper()
	bin, err := filepath.Abs(cmp.Or(os.Getenv("HERALD_BIN"), filepath.Join("..", "..", "bin", "herald")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no herald binary: %v (run `make build` in the repository root, or set HERALD_BIN)", err)
	}

	h := &herald{log: &syncBuffer{}}
	cmd := exec.Command(bin, "serve",
		"--addr", "127.0.0.1:0",
		"--journal", "bolt",
		"--data", filepath.Join(t.TempDir(), "herald.db"),
		"--log-format", "json",
		"--db-admin-token", adminToken,
		"--db-prefix", "/", // the SDKs address a database at the root
	)
	cmd.Env = cleanEnv()
	cmd.Stderr = h.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	ready := false
	t.Cleanup(func() {
		select {
		case <-exited:
			if ready {
				t.Errorf("herald exited during the test: %v\n%s", exitErr, h.log)
			}
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if exitErr != nil {
				t.Errorf("herald stopped with %v\n%s", exitErr, h.log)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("herald did not stop within 20s of SIGTERM\n%s", h.log)
		}
		if t.Failed() {
			t.Logf("herald's log:\n%s", h.log)
		}
	})

	checkFor(t, waitTimeout, 20*time.Millisecond, func() error {
		select {
		case <-exited:
			t.Fatalf("herald serve exited before it was ready: %v\n%s", exitErr, why(h.log.String()))
		default:
		}
		if h.addr == "" {
			h.addr = listening(h.log.String())
			if h.addr == "" {
				return errors.New("herald has not logged its address yet")
			}
		}
		resp, err := http.Get("http://" + h.addr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answers %s", resp.Status)
		}
		return nil
	})
	ready = true
	return h
}

// why picks the reason out of the output of a herald that would not start:
// its "herald: ..." error lines, without the usage text a bad flag brings,
// or else the last lines.
func why(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	var errs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "herald: ") {
			errs = append(errs, l)
		}
	}
	if errs == nil {
		errs = lines[max(0, len(lines)-20):]
	}
	return strings.Join(errs, "\n")
}

// listening returns the host:port of the "herald listening" line in a JSON
// log, or "" if there is none yet.
func listening(log string) string {
	for line := range strings.Lines(log) {
		var rec struct {
			Msg string `json:"msg"`
			URL string `json:"url"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "herald listening" {
			return strings.TrimPrefix(rec.URL, "http://")
		}
	}
	return ""
}

// client returns an SDK client of database ns on h, configured the way an
// application is pointed at an emulator: FIREBASE_DATABASE_EMULATOR_HOST
// set to localhost:PORT?ns=NAME. The SDK takes the host only in that form:
// with a scheme ("http://...") or an IP address ("127.0.0.1:...") it
// refuses the setting (db/db.go, parseEmulatorHost).
func (h *herald) client(t *testing.T, ns string) *db.Client {
	t.Helper()
	_, port, err := net.SplitHostPort(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIREBASE_DATABASE_EMULATOR_HOST", "localhost:"+port+"?ns="+ns)
	// A project ID keeps NewApp from looking for Google credentials, which
	// would probe the GCE metadata server; DatabaseURL stays empty, so
	// without the emulator variable the SDK fails instead of going out.
	app, err := firebase.NewApp(context.Background(), &firebase.Config{ProjectID: "herald-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Database(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setup starts a server and returns a client of the test namespace and the
// context for the test's calls.
func setup(t *testing.T) (*herald, *db.Client, context.Context) {
	t.Helper()
	h := startHerald(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return h, h.client(t, namespace), ctx
}

// cleanEnv is the test's environment without HERALD_* variables, so a
// developer's own settings do not reach the server under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			env = append(env, kv)
		}
	}
	return env
}

// checkFor calls fn every interval until it returns nil, and fails the test
// with fn's last error if it still has not after timeout.
func checkFor(t *testing.T, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
