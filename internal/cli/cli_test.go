package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/cli"
	"github.com/heraldhub/herald/internal/testutil"
)

// running is a `herald serve` started through Main.
type running struct {
	base, token string
	stdout      *testutil.SyncBuffer
	stderr      *testutil.SyncBuffer
	stop        func() int
}

var (
	urlRe   = regexp.MustCompile(`running at (http\S+)`)
	tokenRe = regexp.MustCompile(`\n  (ey[\w-]+\.[\w-]+\.[\w-]+)\n`)
)

// serve starts the real program and waits until /readyz answers.
func serve(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), nil, strings.NewReader(""), r.stdout, r.stderr)
	}()
	var once sync.Once
	var exit int
	r.stop = func() int {
		once.Do(func() { cancel(); exit = <-code })
		return exit
	}
	t.Cleanup(func() { r.stop() })
	r.waitReady(t, code)
	return r
}

// waitReady waits until the program has printed its URL and /readyz
// answers 200, then reads the printed token. It fails the test if exited
// yields (the program ended) first, and gives the exit code back to
// exited for the cleanup that stops the program.
func (r *running) waitReady(t *testing.T, exited chan int) {
	t.Helper()
	testutil.CheckFor(t, testutil.WaitTimeout, 20*time.Millisecond, func() error {
		select {
		case c := <-exited:
			exited <- c
			t.Fatalf("serve exited with %d: %s%s", c, r.stdout, r.stderr)
		default:
		}
		m := urlRe.FindStringSubmatch(r.stdout.String())
		if m == nil {
			return fmt.Errorf("serve printed no URL: %s%s", r.stdout, r.stderr)
		}
		r.base = m[1]
		resp, err := http.Get(r.base + "/readyz")
		if err != nil {
			return fmt.Errorf("serve not ready: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("serve not ready: /readyz answers %s", resp.Status)
		}
		return nil
	})
	if m := tokenRe.FindStringSubmatch(r.stdout.String()); m != nil {
		r.token = m[1]
	}
}

// run runs one command to completion and returns its exit code and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := cli.Main(ctx, args, nil, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestQuickStart(t *testing.T) {
	testutil.CheckNoLeaks(t) // serve, once stopped, leaves nothing running
	dir := t.TempDir()
	r := serve(t, "--data", filepath.Join(dir, "herald.db"))
	if r.token == "" {
		t.Fatalf("serve printed no token:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout.String(), "curl -N") {
		t.Errorf("serve printed no curl line:\n%s", r.stdout)
	}
	hubURL := r.base + "/.well-known/mercure"
	code, id1, errOut := run(t, "", "publish", "--hub", hubURL, "--token", r.token, "--topic", "demo", "hello")
	if code != 0 {
		t.Fatalf("publish: %d %s", code, errOut)
	}
	code, id2, errOut := run(t, "multi\nline", "publish", "--hub", hubURL, "--token", r.token, "--topic", "demo", "--type", "note")
	if code != 0 {
		t.Fatalf("publish from stdin: %d %s", code, errOut)
	}
	code, out, errOut := run(t, "", "subscribe", "--hub", hubURL, "--token", r.token, "--topic", "demo", "--last-event-id", "earliest", "-n", "2")
	if code != 0 {
		t.Fatalf("subscribe: %d %s", code, errOut)
	}
	want := fmt.Sprintf("id: %s\ndata: hello\n\nid: %s\nevent: note\ndata: multi\ndata: line\n\n", strings.TrimSpace(id1), strings.TrimSpace(id2))
	if out != want {
		t.Errorf("subscribe printed\n%q\nwant\n%q", out, want)
	}
	if got := r.stop(); got != 0 {
		t.Errorf("serve exit code %d after interrupt", got)
	}
}

func TestResumeAfterRestart(t *testing.T) {
	testutil.CheckNoLeaks(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "herald.db")
	r := serve(t, "--data", data)
	hubURL := r.base + "/.well-known/mercure"
	var ids []string
	for i := range 10 {
		code, id, errOut := run(t, "", "publish", "--hub", hubURL, "--token", r.token, "--topic", "t", fmt.Sprint(i))
		if code != 0 {
			t.Fatal(errOut)
		}
		ids = append(ids, strings.TrimSpace(id))
	}
	if code := r.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, r.stderr)
	}

	r2 := serve(t, "--data", data)
	if r2.token == "" {
		t.Fatal("restarted serve printed no token")
	}
	hubURL = r2.base + "/.well-known/mercure"
	for i := 10; i < 13; i++ {
		code, id, errOut := run(t, "", "publish", "--hub", hubURL, "--token", r2.token, "--topic", "t", fmt.Sprint(i))
		if code != 0 {
			t.Fatal(errOut)
		}
		ids = append(ids, strings.TrimSpace(id))
	}
	code, out, errOut := run(t, "", "subscribe", "--hub", hubURL, "--token", r2.token, "--topic", "t", "--last-event-id", ids[4], "-n", "8", "--json")
	if code != 0 {
		t.Fatalf("subscribe: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("got %d events:\n%s", len(lines), out)
	}
	for i, line := range lines {
		if want := fmt.Sprintf(`{"id":%q,"type":"message","data":"%d"`, ids[5+i], 5+i); !strings.HasPrefix(line, want) {
			t.Errorf("event %d = %s, want prefix %s", i, line, want)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	code, out, errOut := run(t, "", "token", "--key", "a-secret-key-of-enough-length-123", "--publish", "a,b", "--subscribe", "*", "--payload", `{"u":1}`, "--ttl", "1h")
	if code != 0 {
		t.Fatalf("token: %d %s", code, errOut)
	}
	key, _ := auth.LoadKey("a-secret-key-of-enough-length-123")
	v := auth.Verifier{Key: key}
	c, err := v.Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if !c.CanPublish([]string{"a"}) || c.CanPublish([]string{"c"}) || string(c.Payload) != `{"u":1}` {
		t.Errorf("claims = %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires in %v, want 1h", d)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		code int
		msg  string
	}{
		{[]string{}, nil, 2, "Usage"},
		{[]string{"frobnicate"}, nil, 2, "unknown command"},
		{[]string{"serve", "--journal", "nope"}, nil, 2, "unknown --journal"},
		{[]string{"serve"}, []string{"HERALD_HEARTBEAT=soon"}, 2, "HERALD_HEARTBEAT"},
		{[]string{"publish", "x"}, nil, 2, "--topic"},
		// Only serve reads HERALD_* variables.
		{[]string{"publish", "x"}, []string{"HERALD_TOPIC=t"}, 2, "--topic"},
		{[]string{"token", "--key", "k"}, nil, 2, "--publish"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), c.args, c.env, strings.NewReader(""), &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.msg) {
			t.Errorf("%v: exit %d, output %q; want %d containing %q", c.args, code, out.String()+errb.String(), c.code, c.msg)
		}
	}
}

func TestServeHelpListsFlags(t *testing.T) {
	code, out, errOut := run(t, "", "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help exit %d", code)
	}
	for _, f := range []string{"-addr", "-data", "-journal", "-publisher-key", "-subscriber-key", "-anonymous", "-cors-origins", "-heartbeat", "-tls-cert", "-tls-self-signed"} {
		if !strings.Contains(out+errOut, f) {
			t.Errorf("serve --help lacks %s", f)
		}
	}
}

func TestServeEnvironment(t *testing.T) {
	dir := t.TempDir()
	var out, errb testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"serve"}, []string{"HERALD_ADDR=127.0.0.1:0", "HERALD_JOURNAL=memory", "HERALD_DATA=" + filepath.Join(dir, "x.db"), "HERALD_ANONYMOUS=true"}, strings.NewReader(""), &out, &errb)
	}()
	var base string
	testutil.CheckFor(t, testutil.WaitTimeout, 20*time.Millisecond, func() error {
		m := urlRe.FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("not started: %s %s", out.String(), errb.String())
		}
		base = m[1]
		return nil
	})
	// Anonymous subscribers are accepted: the env var took effect.
	resp, err := http.Get(base + "/.well-known/mercure?topic=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("anonymous subscribe with HERALD_ANONYMOUS=true: %d", resp.StatusCode)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Errorf("exit %d: %s", c, errb.String())
	}
}

// holdsFor polls fn for the whole of d and fails the test at the first
// error: the opposite of testutil.CheckFor, for a state that must last.
func holdsFor(t *testing.T, d, every time.Duration, fn func() error) {
	t.Helper()
	until := time.Now().Add(d)
	for {
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(until) {
			return
		}
		time.Sleep(every)
	}
}

// TestServeNATSNeedsSharedKey: the nodes of a cluster must verify each
// other's tokens, so --nats without a key of the operator's is refused
// before anything starts.
func TestServeNATSNeedsSharedKey(t *testing.T) {
	code, _, stderr := run(t, "", "serve", "--addr", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1", "--data", filepath.Join(t.TempDir(), "h.db"))
	if code != 2 || !strings.Contains(stderr, "--nats needs --publisher-key") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
