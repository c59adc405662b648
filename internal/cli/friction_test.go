package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/cli"
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
