package bench

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func fakeLookup(names map[string][]string) lookupFunc {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		addrs, ok := names[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func TestLoopbackGuard(t *testing.T) {
	lookup := fakeLookup(map[string][]string{
		"localhost":     {"::1", "127.0.0.1"},
		"hub.internal":  {"127.0.0.53"},
		"example.com":   {"93.184.215.14"},
		"split.example": {"127.0.0.1", "10.0.0.1"}, // one answer is enough to refuse
		"nothing.local": {},
	})
	for _, tc := range []struct {
		url      string
		wantAddr string // "" means refused
		loopback bool   // refused because not loopback (rather than malformed)
	}{
		{"http://127.0.0.1:8080/.well-known/mercure", "127.0.0.1:8080", false},
		{"http://127.9.8.7/.well-known/mercure", "127.9.8.7:80", false},
		{"https://[::1]/hub", "[::1]:443", false},
		{"http://[::ffff:127.0.0.1]:3000/", "127.0.0.1:3000", false},
		{"http://localhost:3000/.well-known/mercure", "127.0.0.1:3000", false},
		{"http://hub.internal:1/", "127.0.0.53:1", false},
		{"http://192.0.2.2:8080/.well-known/mercure", "", true},
		{"http://[fd00::2]:8080/", "", true},
		{"http://0.0.0.0:8080/", "", true},
		{"http://example.com/.well-known/mercure", "", true},
		{"http://split.example/", "", true},
		{"http://nothing.local/", "", false},
		{"http://unknown.invalid/", "", false},
		{"ftp://127.0.0.1/", "", false},
		{"http://127.0.0.1:0/", "", false},
		{"http:///nohost", "", false},
	} {
		_, addr, err := resolveLoopback(context.Background(), lookup, tc.url)
		switch {
		case tc.wantAddr != "" && err != nil:
			t.Errorf("%s: refused: %v", tc.url, err)
		case tc.wantAddr != "" && addr.String() != tc.wantAddr:
			t.Errorf("%s: dials %s, want %s", tc.url, addr, tc.wantAddr)
		case tc.wantAddr == "" && err == nil:
			t.Errorf("%s: accepted (dials %s), want refused", tc.url, addr)
		case tc.wantAddr == "" && errors.Is(err, ErrNotLoopback) != tc.loopback:
			t.Errorf("%s: error %q; ErrNotLoopback = %v, want %v", tc.url, err, !tc.loopback, tc.loopback)
		}
	}
}

func TestNewTargetRefusesRemoteAddresses(t *testing.T) {
	for _, spec := range []targetSpec{
		{Hub: "http://x/", Addr: "192.0.2.2:80"},
		{Hub: "http://x/", Addr: "127.0.0.1:80", Sources: []string{"192.0.2.2"}},
		{Hub: "http://x/", Addr: "127.0.0.1:80", Sources: []string{"::1"}}, // wrong family
	} {
		if _, err := newTarget(spec); err == nil {
			t.Errorf("newTarget(%+v) accepted", spec)
		}
	}
}

func TestCommandRefusesRemoteHub(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Command(context.Background(), []string{"publish", "--hub", "http://192.0.2.2:8080/.well-known/mercure", "--quiet"}, &stdout, &stderr)
	if code != ExitError || !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("exit %d, stderr %q; want %d and a message about loopback", code, stderr.String(), ExitError)
	}
	code = Command(context.Background(), []string{"publish", "--hub", "http://127.0.0.1:1/", "--metrics", "http://192.0.2.2/metrics", "--quiet"}, &stdout, &stderr)
	if code != ExitError || !strings.Contains(stderr.String(), "--metrics") {
		t.Errorf("remote --metrics: exit %d, stderr %q; want refused", code, stderr.String())
	}
}
