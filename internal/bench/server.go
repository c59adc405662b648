package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// serverSample is the hub's resource use at one moment, from /proc when
// --pid is given, else from its Prometheus /metrics when it has one. A field
// is nil when no source had it. For several hubs (nodes of a cluster), RSS
// and CPU are their processes' sums, and Nodes has each process's figures.
type serverSample struct {
	At         time.Time
	RSSBytes   *int64
	CPUSeconds *float64
	Nodes      []nodeSample
	Goroutines *int64
	// Hub holds the hub's own metrics (herald_*, mercure_*), by series,
	// histogram buckets aside: everything but the Go runtime's and the
	// process's.
	Hub map[string]float64
}

// nodeSample is one hub process's figures in a serverSample.
type nodeSample struct {
	PID        int
	RSSBytes   *int64
	CPUSeconds *float64
}

// serverProbe samples the hub's resource use.
type serverProbe struct {
	pids       []int  // the hubs' processes, in the order of --hub
	metricsURL string // "" when the hub has no usable /metrics
	client     *http.Client
}

// newServerProbe checks the sources once, so that a run reports plainly
// which figures it will have. metrics, when not nil, dials the metrics URL;
// one that does not answer 200 with Prometheus text is dropped (Mercure
// serves it on another port, if at all), with a note if noteMetrics.
func newServerProbe(ctx context.Context, pids []int, metrics *target, noteMetrics bool) (*serverProbe, []string) {
	p := &serverProbe{pids: pids}
	var notes []string
	for _, pid := range pids {
		// A sum that misses a hub would be wrong: one bad PID drops them all.
		if _, err := readProcStatus(pid); err != nil {
			notes = append(notes, fmt.Sprintf("--pid %d: %v; no server memory or CPU from /proc", pid, err))
			p.pids = nil
			break
		}
	}
	if metrics != nil {
		p.client = newPublisher(metrics, "", 2, 5*time.Second).client
		p.metricsURL = metrics.spec.Hub
		if _, err := p.scrape(ctx); err != nil {
			if noteMetrics {
				notes = append(notes, fmt.Sprintf("no metrics from %s (%v)", p.metricsURL, err))
			}
			p.metricsURL = ""
		}
	}
	return p, notes
}

func (p *serverProbe) enabled() bool { return len(p.pids) > 0 || p.metricsURL != "" }

// close releases the metrics client's connections.
func (p *serverProbe) close() {
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// sample reads the hub's figures now; what cannot be read stays nil.
func (p *serverProbe) sample(ctx context.Context) serverSample {
	s := serverSample{At: time.Now()}
	if p.metricsURL != "" {
		if m, err := p.scrape(ctx); err == nil {
			if v, ok := m["process_resident_memory_bytes"]; ok {
				s.RSSBytes = ptr(int64(v))
			}
			if v, ok := m["process_cpu_seconds_total"]; ok {
				s.CPUSeconds = ptr(v)
			}
			if v, ok := m["go_goroutines"]; ok {
				s.Goroutines = ptr(int64(v))
			}
			s.Hub = hubMetrics(m)
		}
	}
	// /proc is exact and read last, so it wins over the metrics' figures.
	if len(p.pids) == 0 {
		return s
	}
	var rss int64
	var cpu float64
	rssOK, cpuOK := true, true
	for _, pid := range p.pids {
		n := nodeSample{PID: pid}
		if st, err := readProcStatus(pid); err == nil {
			n.RSSBytes = ptr(st.rssBytes)
			rss += st.rssBytes
		} else {
			rssOK = false
		}
		if c, err := readProcCPU(pid); err == nil {
			n.CPUSeconds = ptr(c)
			cpu += c
		} else {
			cpuOK = false
		}
		s.Nodes = append(s.Nodes, n)
	}
	if rssOK {
		s.RSSBytes = ptr(rss)
	}
	if cpuOK {
		s.CPUSeconds = ptr(cpu)
	}
	if len(s.Nodes) == 1 {
		s.Nodes = nil // the sum is the one hub's figure
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// scrape fetches the unlabelled samples of the Prometheus text format.
func (p *serverProbe) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	m := parseMetrics(io.LimitReader(resp.Body, 8<<20))
	if len(m) == 0 {
		return nil, fmt.Errorf("no Prometheus samples")
	}
	return m, nil
}

// parseMetrics reads the samples of the Prometheus text format, keyed by
// the series as written (`name` or `name{label="value",...}`); comments
// and histogram buckets are skipped.
func parseMetrics(r io.Reader) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], line[i+1:]
			if name, _, _ := strings.Cut(series, "{"); strings.HasSuffix(name, "_bucket") {
				continue
			}
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			series, rest = line[:i], line[i:]
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			m[series] = v
		}
	}
	return m
}

// hubMetrics keeps the metrics that describe the hub rather than the Go
// runtime or the process.
func hubMetrics(m map[string]float64) map[string]float64 {
	hub := map[string]float64{}
	for k, v := range m {
		if !strings.HasPrefix(k, "go_") && !strings.HasPrefix(k, "process_") && !strings.HasPrefix(k, "promhttp_") {
			hub[k] = v
		}
	}
	return hub
}

type procStatus struct{ rssBytes int64 }

// readProcStatus reads VmRSS from /proc/<pid>/status.
func readProcStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(b)
}

func parseProcStatus(b []byte) (procStatus, error) {
	rss, err := parseProcField(b, "VmRSS:")
	return procStatus{rssBytes: rss}, err
}

// parseProcField reads the size in kB on the line of /proc/<pid>/status
// that starts with name, in bytes.
func parseProcField(b []byte, name string) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(name))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s line (is it a kernel thread, or a zombie?)", strings.TrimSuffix(name, ":"))
}

// readProcPeak reads VmHWM, the peak RSS, from /proc/<pid>/status.
func readProcPeak(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseProcField(b, "VmHWM:")
}

// resetProcPeak makes the kernel start VmHWM again from the current RSS
// (Linux 4.0 and later; the caller must be allowed to trace pid).
func resetProcPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// readProcCPU returns utime+stime of /proc/<pid>/stat, in seconds.
func readProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (float64, error) {
	// The command name (field 2) is in parentheses and may itself hold
	// spaces and parentheses: the fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields", len(f)+2)
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc stat times")
	}
	return float64(utime+stime) / clockTicks, nil
}

// serverUse is the hub's resource use over one phase of a run.
type serverUse struct {
	RSSBeforeBytes *int64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes  *int64   `json:"rss_after_bytes,omitempty"`
	CPUSeconds     *float64 `json:"cpu_seconds,omitempty"`
	// CPUPercent is CPU time over wall time: 100 is one core busy.
	CPUPercent *float64 `json:"cpu_percent,omitempty"`
	Goroutines *int64   `json:"goroutines,omitempty"`
	// HubMetrics are the hub's own metrics that changed over the phase.
	HubMetrics []metricChange `json:"hub_metrics,omitempty"`
	// Nodes are each hub process's figures, when there are several: the
	// ones above are their sums.
	Nodes []nodeUse `json:"nodes,omitempty"`
}

// nodeUse is one hub process's resource use over a phase.
type nodeUse struct {
	PID            int      `json:"pid"`
	RSSBeforeBytes *int64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes  *int64   `json:"rss_after_bytes,omitempty"`
	CPUSeconds     *float64 `json:"cpu_seconds,omitempty"`
}

// metricChange is one hub metric at the start and the end of a phase.
type metricChange struct {
	Name   string  `json:"name"`
	Before float64 `json:"before"`
	After  float64 `json:"after"`
}

// cpuPer is the hub's CPU in u over n operations, in microseconds; nil
// when the CPU is unknown or nothing was done.
func cpuPer(u *serverUse, n int64) *float64 {
	if u == nil || u.CPUSeconds == nil || n <= 0 {
		return nil
	}
	return ptr(*u.CPUSeconds / float64(n) * 1e6)
}

func between(a, b serverSample) *serverUse {
	u := &serverUse{RSSBeforeBytes: a.RSSBytes, RSSAfterBytes: b.RSSBytes, Goroutines: b.Goroutines}
	if a.CPUSeconds != nil && b.CPUSeconds != nil {
		cpu := *b.CPUSeconds - *a.CPUSeconds
		u.CPUSeconds = &cpu
		if wall := b.At.Sub(a.At).Seconds(); wall > 0 {
			u.CPUPercent = ptr(100 * cpu / wall)
		}
	}
	for name, after := range b.Hub {
		if before, ok := a.Hub[name]; ok && before != after {
			u.HubMetrics = append(u.HubMetrics, metricChange{Name: name, Before: before, After: after})
		}
	}
	slices.SortFunc(u.HubMetrics, func(x, y metricChange) int { return strings.Compare(x.Name, y.Name) })
	if len(a.Nodes) == len(b.Nodes) {
		for i, nb := range b.Nodes {
			na := a.Nodes[i]
			n := nodeUse{PID: nb.PID, RSSBeforeBytes: na.RSSBytes, RSSAfterBytes: nb.RSSBytes}
			if na.CPUSeconds != nil && nb.CPUSeconds != nil {
				n.CPUSeconds = ptr(*nb.CPUSeconds - *na.CPUSeconds)
			}
			u.Nodes = append(u.Nodes, n)
		}
	}
	if u.RSSBeforeBytes == nil && u.RSSAfterBytes == nil && u.CPUSeconds == nil && u.Goroutines == nil && u.HubMetrics == nil {
		return nil
	}
	return u
}
