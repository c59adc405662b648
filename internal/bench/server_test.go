package bench

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A command name may hold spaces and parentheses; the fields after it
	// are found from the last ')'.
	stat := "4242 (my (weird) hub) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 200000000 5000"
	cpu, err := parseProcStat([]byte(stat))
	if err != nil || cpu != 3.25 {
		t.Errorf("parseProcStat = %v, %v; want 3.25 s (325 ticks)", cpu, err)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 x y z"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted", bad)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	st, err := parseProcStatus([]byte("Name:\therald\nVmPeak:\t  9000 kB\nVmRSS:\t  1536 kB\nThreads:\t7\n"))
	if err != nil || st.rssBytes != 1536*1024 {
		t.Errorf("parseProcStatus = %+v, %v; want 1536 KiB", st, err)
	}
	if _, err := parseProcStatus([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("a status without VmRSS was accepted")
	}
}

func TestReadOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	st, err := readProcStatus(os.Getpid())
	if err != nil || st.rssBytes < 1<<20 {
		t.Errorf("own RSS = %d, %v; want at least 1 MiB", st.rssBytes, err)
	}
	if _, err := readProcCPU(os.Getpid()); err != nil {
		t.Errorf("own CPU: %v", err)
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(strings.NewReader(`# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.4576e+07
process_cpu_seconds_total 12.5
go_goroutines 42
herald_streams{transport="sse"} 7
herald_streams_closed_total{reason="a } in a value",transport="ws"} 2
herald_delivery_age_seconds_bucket{transport="sse",le="0.1"} 3
herald_delivery_age_seconds_count{transport="sse"} 3
broken_line
`))
	want := map[string]float64{"process_resident_memory_bytes": 24576000, "process_cpu_seconds_total": 12.5, "go_goroutines": 42,
		`herald_streams{transport="sse"}`: 7, `herald_streams_closed_total{reason="a } in a value",transport="ws"}`: 2,
		`herald_delivery_age_seconds_count{transport="sse"}`: 3}
	if len(m) != len(want) {
		t.Errorf("parsed %v, want %v", m, want)
	}
	if hub := hubMetrics(map[string]float64{"herald_connections": 1, "go_goroutines": 2, "process_open_fds": 3}); len(hub) != 1 || hub["herald_connections"] != 1 {
		t.Errorf("hub metrics = %v, want only herald_connections", hub)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

func TestBetween(t *testing.T) {
	a := serverSample{RSSBytes: ptr(int64(100)), CPUSeconds: ptr(1.0),
		Hub: map[string]float64{"herald_connections": 0, "herald_deliveries_total": 10, "herald_same": 1}}
	b := serverSample{RSSBytes: ptr(int64(300)), CPUSeconds: ptr(2.5),
		Hub: map[string]float64{"herald_connections": 5, "herald_deliveries_total": 50, "herald_same": 1, "herald_new": 3}}
	b.At = a.At.Add(3e9)
	u := between(a, b)
	if u == nil || *u.CPUSeconds != 1.5 || *u.CPUPercent != 50 || *u.RSSAfterBytes != 300 {
		t.Errorf("between = %+v", u)
	}
	want := []metricChange{{"herald_connections", 0, 5}, {"herald_deliveries_total", 10, 50}}
	if !slices.Equal(u.HubMetrics, want) {
		t.Errorf("hub metrics that changed = %v, want %v", u.HubMetrics, want)
	}
	if between(serverSample{}, serverSample{}) != nil {
		t.Error("two empty samples give figures")
	}
}
