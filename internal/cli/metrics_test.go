package cli_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// With --metrics-addr, /metrics moves to the internal listener, with
// herald_build_info naming the version /healthz reports; given the same
// address, --debug-addr's profiles share that listener.
func TestServeMetricsAddr(t *testing.T) {
	addr := freeAddr(t)
	internal := "http://" + addr
	r := serve(t, "--journal", "memory", "--data", filepath.Join(t.TempDir(), "herald.db"), "--anonymous", "--metrics-addr", addr, "--debug-addr", addr)
	if code, _ := getBody(t, r.base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics with --metrics-addr: %d, want 404", code)
	}
	_, health := getBody(t, r.base+"/healthz")
	var h struct{ Version string }
	if err := json.Unmarshal([]byte(health), &h); err != nil || h.Version == "" {
		t.Fatalf("/healthz = %s (%v)", health, err)
	}
	code, body := getBody(t, internal+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("internal /metrics: %d", code)
	}
	for _, want := range []string{`version="` + h.Version + `"`, "go_goroutines ", "process_resident_memory_bytes ", `herald_streams{transport="sse"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("internal /metrics lacks %s", want)
		}
	}
	if !regexp.MustCompile(`herald_build_info\{[^}]*version="` + regexp.QuoteMeta(h.Version) + `"[^}]*\} 1`).MatchString(body) {
		t.Errorf("no herald_build_info{version=%q} 1 in\n%s", h.Version, body)
	}
	if code, _ := getBody(t, internal+"/debug/pprof/"); code != http.StatusOK {
		t.Errorf("pprof on the shared internal listener: %d", code)
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
