package cli_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/cli"
)

func TestHealthcheck(t *testing.T) {
	r := serve(t, "--journal", "memory", "--data", filepath.Join(t.TempDir(), "herald.db"))
	u, err := url.Parse(r.base)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(u.Host)

	// The address as serve is given it: every interface, asked on loopback;
	// from the environment and from a config file as serve reads them.
	cfg := writeConfig(t, `addr = ":`+port+`"`)
	for _, c := range []struct {
		args []string
		env  []string
	}{
		{[]string{"--addr", ":" + port}, nil},
		{nil, []string{"HERALD_ADDR=127.0.0.1:" + port}},
		{[]string{"--config", cfg}, nil},
	} {
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), append([]string{"healthcheck"}, c.args...), c.env, strings.NewReader(""), &out, &errb)
		if code != 0 || !strings.Contains(out.String(), "/healthz 200 OK") {
			t.Errorf("healthcheck %v %v: exit %d, %q %q; want 0 and 200 OK", c.args, c.env, code, out.String(), errb.String())
		}
	}

	r.stop()
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"healthcheck", "--addr", ":" + port}, nil, strings.NewReader(""), &out, &errb); code != 1 {
		t.Errorf("healthcheck of a stopped hub: exit %d, want 1: %s", code, errb.String())
	}
}
