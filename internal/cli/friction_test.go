package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/cli"
	"github.com/heraldhub/herald/internal/testutil"
)

// runEnv runs one command with environment variables.
func runEnv(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := cli.Main(ctx, args, environ, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Flags may follow the data, and the client commands take their hub and
// token from HERALD_HUB and HERALD_TOKEN.
func TestPublishFlagsAnywhereAndEnvironment(t *testing.T) {
	r := serve(t, "--data", filepath.Join(t.TempDir(), "herald.db"))
	hubURL := r.base + "/.well-known/mercure"
	env := []string{"HERALD_HUB=" + hubURL, "HERALD_TOKEN=" + r.token}
	code, id1, errOut := runEnv(t, env, "publish", "first", "--topic", "demo")
	if code != 0 {
		t.Fatalf("publish DATA --topic: %d %s", code, errOut)
	}
	code, id2, errOut := runEnv(t, env, "publish", "--topic", "demo", "--", "--second")
	if code != 0 {
		t.Fatalf("publish -- DATA: %d %s", code, errOut)
	}
	code, out, errOut := runEnv(t, env, "subscribe", "--topic", "demo", "--last-event-id", "earliest", "-n", "2")
	if code != 0 {
		t.Fatalf("subscribe: %d %s", code, errOut)
	}
	want := fmt.Sprintf("id: %s\ndata: first\n\nid: %s\ndata: --second\n\n", strings.TrimSpace(id1), strings.TrimSpace(id2))
	if out != want {
		t.Errorf("subscribe printed %q, want %q", out, want)
	}
	// A flag wins over the environment.
	if code, _, errOut := runEnv(t, env, "publish", "x", "--topic", "demo", "--token", "garbage"); code == 0 || !strings.Contains(errOut, "401") {
		t.Errorf("--token garbage over HERALD_TOKEN: %d %s", code, errOut)
	}
}

// Help writes flags as the documentation does, with two dashes, and a
// placeholder only where one means something.
func TestHelpWritesDoubleDashes(t *testing.T) {
	_, out, errOut := run(t, "", "token", "--help")
	help := out + errOut
	if !strings.Contains(help, "  --key key\n") || !strings.Contains(help, "  --publish value\n") || strings.Contains(help, "\n  -key") {
		t.Errorf("token --help:\n%s", help)
	}
	if strings.Contains(help, "herald serve\n") {
		t.Errorf("the key's help renders a placeholder from its text:\n%s", help)
	}
}

// herald token away from the data directory says where the key is looked
// for and how to give it.
func TestTokenWithoutKeySaysWhere(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := run(t, "", "token", "--publish", "*", "--data", filepath.Join(dir, "herald.db"))
	if code != 1 || !strings.Contains(errOut, filepath.Join(dir, "herald.key")) || !strings.Contains(errOut, "--key") || !strings.Contains(errOut, "--data") {
		t.Errorf("token without a key file: %d %q", code, errOut)
	}
}

// subscribe's final error is said once, not as a reconnection; --key mints
// the subscriber's token before each connection.
func TestSubscribeFinalErrorAndKey(t *testing.T) {
	dir := t.TempDir()
	r := serve(t, "--data", filepath.Join(dir, "herald.db"))
	hubURL := r.base + "/.well-known/mercure"
	code, _, errOut := run(t, "", "subscribe", "--hub", hubURL, "--token", "garbage", "--topic", "demo")
	if code != 1 || strings.Contains(errOut, "reconnecting") || strings.Count(errOut, "401") != 1 {
		t.Errorf("subscribe with a bad token: %d %q", code, errOut)
	}
	code, id, errOut := run(t, "", "publish", "--hub", hubURL, "--token", r.token, "--topic", "demo", "--private", "secret")
	if code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := run(t, "", "subscribe", "--hub", hubURL, "--key", "file:"+filepath.Join(dir, "herald.key"),
		"--topic", "demo", "--last-event-id", "earliest", "-n", "1")
	if code != 0 || !strings.Contains(out, "id: "+strings.TrimSpace(id)) {
		t.Errorf("subscribe --key (a private event needs its grant): %d %q %q", code, out, errOut)
	}
}

// What serve prints and writes, tried as a newcomer would.
func TestServeFirstHour(t *testing.T) {
	t.Run("self-signed TLS curl lines", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var out testutil.SyncBuffer
		done := make(chan int, 1)
		go func() {
			done <- cli.Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--tls-self-signed", "--data", filepath.Join(t.TempDir(), "herald.db")},
				nil, strings.NewReader(""), &out, io.Discard)
		}()
		defer func() { cancel(); <-done }()
		testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
			if !strings.Contains(out.String(), "and publish in another") {
				return errors.New("no curl lines yet")
			}
			return nil
		})
		if got := out.String(); strings.Count(got, "curl -k ") != 2 {
			t.Errorf("curl lines without -k for a self-signed certificate:\n%s", got)
		}
	})
	t.Run("memory journal writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		r := serve(t, "--journal", "memory", "--data", filepath.Join(dir, "herald.db"))
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("--journal memory wrote %d files in the data directory", len(entries))
		}
		if r.token == "" || !strings.Contains(r.stdout.String(), "generated for this run") {
			t.Errorf("no token, or no word of the key:\n%s", r.stdout)
		}
		if strings.Contains(r.stderr.String(), "data=") {
			t.Errorf("the log names a data file for a memory journal:\n%s", r.stderr)
		}
	})
	t.Run("live page link with the token", func(t *testing.T) {
		r := serve(t, "--data", filepath.Join(t.TempDir(), "herald.db"))
		if want := r.base + "/?topic=demo#token=" + r.token; !strings.Contains(r.stdout.String(), want) {
			t.Errorf("no link %s in:\n%s", want, r.stdout)
		}
	})
	t.Run("own key: how to mint a token", func(t *testing.T) {
		r := serve(t, "--data", filepath.Join(t.TempDir(), "herald.db"), "--publisher-key", "a-secret-key-of-enough-length-123")
		if !strings.Contains(r.stdout.String(), "herald token --key") {
			t.Errorf("nothing says how to get a token:\n%s", r.stdout)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		dir := t.TempDir()
		code, _, errOut := run(t, "", "serve", "--addr", ln.Addr().String(), "--data", filepath.Join(dir, "herald.db"))
		if code != 1 || !strings.Contains(errOut, "address already in use") {
			t.Errorf("serve on a port in use: %d %q", code, errOut)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a failed start left %d files in the data directory", len(entries))
		}
	})
}
