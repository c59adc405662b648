package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/cli"
)

// writeConfig writes a config file into a test's directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// printConfig runs `herald serve --print-config` with args and env and
// returns its lines by key: `addr = ":8080"  # HERALD_ADDR` under "addr".
func printConfig(t *testing.T, env []string, args ...string) map[string]string {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), append([]string{"serve", "--print-config"}, args...), env, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("serve --print-config %v: exit %d: %s", args, code, errb.String())
	}
	lines := make(map[string]string)
	for _, l := range strings.Split(out.String(), "\n") {
		if k, _, ok := strings.Cut(strings.TrimPrefix(l, "# "), " = "); ok {
			lines[k] = l
		}
	}
	return lines
}

func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, `
addr = "127.0.0.1:9001"
heartbeat = "1s"
retry = "2s"
write-timeout = "3s"
cors-origins = ["https://a.example", "https://b.example"]
`)
	env := []string{"HERALD_HEARTBEAT=11s", "HERALD_RETRY=12s", "HERALD_CONFIG=" + path}
	got := printConfig(t, env, "--retry", "22s")
	want := map[string]string{
		"addr":          `addr = "127.0.0.1:9001"  # ` + path,    // file over default
		"heartbeat":     `heartbeat = "11s"  # HERALD_HEARTBEAT`, // env over file
		"retry":         `retry = "22s"  # --retry`,              // flag over env
		"write-timeout": `write-timeout = "3s"  # ` + path,
		"max-lifetime":  `max-lifetime = "0s"`, // the default
		"cors-origins":  `cors-origins = ["https://a.example", "https://b.example"]  # ` + path,
		"config":        "", // neither is configuration
		"print-config":  "",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}

	// --config on the command line wins over HERALD_CONFIG.
	other := writeConfig(t, `addr = "127.0.0.1:9002"`)
	if got := printConfig(t, env, "--config", other)["addr"]; got != `addr = "127.0.0.1:9002"  # `+other {
		t.Errorf("--config over HERALD_CONFIG: addr line %q", got)
	}
}

// TestConfigEveryFlag sets every flag of serve away from its default on the
// command line, writes --print-config's output to a file, and reads it back:
// each flag is a key of the file under its own name, and the file gives
// the same configuration. A flag added to serve is covered without being
// named here, as long as its value below is not its default.
func TestConfigEveryFlag(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "pub.key")
	if err := os.WriteFile(keyPath, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	defaults := printConfig(t, nil)
	var args []string
	for name, line := range defaults {
		_, v, _ := strings.Cut(line, " = ")
		var set string
		switch {
		case name == "publisher-key" || name == "subscriber-key":
			set = "file:" + keyPath
		case v == "false":
			set = "true"
		case v == "true":
			set = "false"
		case strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `s"`):
			set = "7s"
		case strings.HasPrefix(v, `"`), strings.HasPrefix(v, "["):
			set = "x-" + name
		default:
			set = "7"
		}
		args = append(args, "--"+name+"="+set)
	}
	fromFlags := printConfig(t, nil, args...)
	var file strings.Builder
	for name, line := range fromFlags {
		if line == defaults[name] {
			t.Errorf("%s: still its default (%s); the test sets it wrong", name, line)
		}
		value, _, _ := strings.Cut(line, "  # ")
		file.WriteString(value + "\n")
	}
	path := writeConfig(t, file.String())
	fromFile := printConfig(t, nil, "--config", path)
	for name, line := range fromFlags {
		want := strings.Replace(line, "# --"+name, "# "+path, 1)
		if fromFile[name] != want {
			t.Errorf("%s: from the file %q, from flags %q", name, fromFile[name], line)
		}
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"serve", "--print-config", "--publisher-key", "hunter2-hunter2-hunter2-hunter2"},
		[]string{"HERALD_SUBSCRIBER_KEY=file:/etc/herald/sub.pem"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("the secret is printed:\n%s", out.String())
	}
	for _, want := range []string{
		"\n# publisher-key = (redacted)  # --publisher-key\n",
		"\nsubscriber-key = \"file:/etc/herald/sub.pem\"  # HERALD_SUBSCRIBER_KEY\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		want       string // a regular expression
	}{
		{"unknown key", "addr = \":1\"\nadress = \":2\"\n", nil, `herald.toml: unknown key "adress"`},
		{"table", "[limits]\nconnect-rate = 1\n", nil, `unknown key "limits.connect-rate"`},
		{"config in the file", "config = \"other.toml\"\n", nil, `unknown key "config"`},
		{"malformed", "addr = \":1\"\n\nheartbeat = 5s\n", nil, `herald.toml: line 3, column \d+: `},
		{"unterminated string", "addr = \":1\n", nil, `herald.toml: line 1, column \d+: `},
		{"duplicate key", "addr = \":1\"\naddr = \":2\"\n", nil, `line 2, column 1: .*addr`},
		{"wrong type", "heartbeat = 5\n", nil, `heartbeat = "5": .*want a duration`},
		{"not a bool", "anonymous = \"yes\"\n", nil, `anonymous = "yes": .*want true or false`},
		{"list for one value", "addr = [\":1\", \":2\"]\n", nil, `addr: a list, but it takes one value`},
		{"missing file", "", []string{"HERALD_CONFIG=/nonexistent/herald.toml"}, `--config: open /nonexistent/herald.toml: no such file`},
		// A value the environment overrides is still checked for its key.
		{"unknown key under env", "adress = \":2\"\n", []string{"HERALD_ADRESS=:3"}, `unknown key "adress"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"serve", "--journal", "memory", "--addr", "127.0.0.1:0"}
			if c.file != "" {
				args = append(args, "--config", writeConfig(t, c.file))
			}
			var out, errb bytes.Buffer
			code := cli.Main(context.Background(), args, c.env, strings.NewReader(""), &out, &errb)
			if code != 2 || !regexp.MustCompile(c.want).MatchString(errb.String()) {
				t.Errorf("exit %d, stderr %q; want 2 matching %q", code, errb.String(), c.want)
			}
		})
	}
}

// TestServeConfigFile runs the hub from a config file: its settings take
// effect, not only print.
func TestServeConfigFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "herald.db")
	path := writeConfig(t, "journal = \"memory\"\nanonymous = true\ndata = \""+data+"\"\n")
	r := serve(t, "--config", path)
	resp, err := http.Get(r.base + "/.well-known/mercure?topic=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("anonymous subscribe with anonymous = true in the file: %d", resp.StatusCode)
	}
}
