package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/testutil"
)

// bench runs Command against hub with --json and the fixture's key (args
// may give another, after the scenario), and decodes the report.
func bench(t *testing.T, hub string, args ...string) (*report, int, string) {
	t.Helper()
	args = append([]string{args[0], "--hub", hub, "--key", fixtureKey, "--json", "--quiet", "--timeout", "60s"}, args[1:]...)
	var stdout, stderr bytes.Buffer
	code := Command(context.Background(), args, &stdout, &stderr)
	if code != ExitOK && code != ExitInexact {
		return nil, code, stderr.String()
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the JSON report: %v\n%s", err, stdout.String())
	}
	return &rep, code, stderr.String()
}

// benchFixture runs bench against a fresh fixture hub, configured by
// configure (nil for a healthy one), and fails the test unless the run exits
// with want.
func benchFixture(t *testing.T, configure func(*fixtureHub), want int, args ...string) *report {
	t.Helper()
	_, hub := newFixture(t, configure)
	rep, code, stderr := bench(t, hub, args...)
	if code != want {
		t.Fatalf("exit %d, want %d: %s", code, want, stderr)
	}
	return rep
}

func TestIdle(t *testing.T) {
	fx, hub := newFixture(t, nil)
	rep, code, stderr := bench(t, hub, "idle", "-n", "50", "--duration", "300ms",
		"--settle", "1s", "--pid", strconv.Itoa(os.Getpid()))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := rep.Idle
	if r.Connected != 50 || r.Failed != 0 || r.OpenAtEnd != 50 || r.Dropped != 0 {
		t.Errorf("connected %d, failed %d, open at end %d, dropped %d; want 50, 0, 50, 0", r.Connected, r.Failed, r.OpenAtEnd, r.Dropped)
	}
	if r.ConnectRate <= 0 || r.ConnectLatency.Count != 50 {
		t.Errorf("connect rate %v, connect latency samples %d", r.ConnectRate, r.ConnectLatency.Count)
	}
	if r.BytesPerConn == nil || r.RSSBeforeBytes == nil || *r.RSSBeforeBytes <= 0 {
		t.Errorf("with --pid, memory figures are missing: %+v", r)
	}
	if r.ServerConnect == nil || r.ServerConnect.CPUSeconds == nil {
		t.Errorf("with --pid, server CPU is missing")
	}
	if len(r.Ramp) == 0 || r.Ramp[len(r.Ramp)-1].Count != 50 {
		t.Errorf("connect ramp %v does not end at 50", r.Ramp)
	}
	waitForSubscribers(t, fx, 0)
}

func TestIdleMeasuresMemoryFromMetrics(t *testing.T) {
	rep := benchFixture(t, nil, ExitOK, "idle", "-n", "40", "--duration", "100ms", "--settle", "2s")
	r := rep.Idle
	if r.BytesPerConn == nil || *r.BytesPerConn != 1000 {
		t.Errorf("bytes per connection from /metrics = %v, want 1000", r.BytesPerConn)
	}
	want := []metricChange{{"fixture_connections", 0, 40}}
	if r.ServerConnect == nil || !slices.Equal(r.ServerConnect.HubMetrics, want) {
		t.Errorf("hub metrics while connecting = %+v, want %v", r.ServerConnect, want)
	}
}

func TestTLSHub(t *testing.T) {
	_, hub := newFixture(t, func(h *fixtureHub) { h.tls = true })
	rep, code, stderr := bench(t, hub, "fanout", "-n", "5", "--rate", "20", "--duration", "300ms", "--insecure")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s := rep.Fanout.Steps[0]; s.Published == 0 || s.Delivered != s.Published*5 {
		t.Errorf("over TLS: published %d, delivered %d", s.Published, s.Delivered)
	}
	// Without --insecure the fixture's self-signed certificate is refused.
	if _, code, stderr := bench(t, hub, "fanout", "-n", "1", "--duration", "300ms"); code != ExitError || !strings.Contains(stderr, "certificate") {
		t.Errorf("untrusted certificate: exit %d, stderr %q", code, stderr)
	}
}

func TestIdleOverChildProcesses(t *testing.T) {
	fx, hub := newFixture(t, nil)
	rep, code, stderr := bench(t, hub, "idle", "-n", "60", "--procs", "2", "--duration", "100ms")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if r := rep.Idle; r.Procs != 2 || r.Connected != 60 || r.OpenAtEnd != 60 || r.ConnectLatency.Count != 60 {
		t.Errorf("procs %d, connected %d, open at end %d, connect samples %d; want 2, 60, 60, 60",
			r.Procs, r.Connected, r.OpenAtEnd, r.ConnectLatency.Count)
	}
	waitForSubscribers(t, fx, 0)
}

func TestFanout(t *testing.T) {
	testutil.CheckNoLeaks(t) // a finished run stops every subscriber, publisher and progress printer
	rep := benchFixture(t, nil, ExitOK, "fanout", "-n", "50", "--rate", "50", "--duration", "1s", "--size", "100")
	f := rep.Fanout
	if len(f.Steps) != 1 || f.Connected != 50 {
		t.Fatalf("%d steps, %d connected", len(f.Steps), f.Connected)
	}
	s := f.Steps[0]
	// A slow machine (or the race detector) may publish fewer, never more.
	if s.Published < 1 || s.Published > 50 || s.PublishErrors != 0 {
		t.Errorf("published %d with %d errors; want up to 50 at 50/s for 1s", s.Published, s.PublishErrors)
	}
	if s.Expected != s.Published*50 || s.Delivered != s.Expected || s.Lost != 0 || s.Duplicates != 0 {
		t.Errorf("expected %d, delivered %d, lost %d, duplicated %d", s.Expected, s.Delivered, s.Lost, s.Duplicates)
	}
	if s.Latency.Count != uint64(s.Delivered) || s.Latency.P50MS <= 0 || s.Latency.MaxMS < s.Latency.P99MS {
		t.Errorf("latency %+v for %d deliveries", s.Latency, s.Delivered)
	}
	if s.PublishLatency.Count != uint64(s.Published) {
		t.Errorf("%d publish latency samples for %d publishes", s.PublishLatency.Count, s.Published)
	}
	if s.DeliveriesPerSec <= 0 || f.Knee != nil {
		t.Errorf("deliveries/s %v, knee %v (no knee without a sweep)", s.DeliveriesPerSec, f.Knee)
	}
}

func TestFanoutSweepOverChildProcessesWithSVG(t *testing.T) {
	testutil.CheckNoLeaks(t)
	_, hub := newFixture(t, nil)
	svg := filepath.Join(t.TempDir(), "sweep.svg")
	rep, code, stderr := bench(t, hub, "fanout", "-n", "40", "--procs", "2", "--rates", "20,40",
		"--duration", "500ms", "--knee", "1us", "--svg", svg)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f := rep.Fanout
	if f.Procs != 2 || len(f.Steps) != 2 {
		t.Fatalf("procs %d, steps %d", f.Procs, len(f.Steps))
	}
	for _, s := range f.Steps {
		if s.Published == 0 || s.Delivered != s.Published*40 || s.Lost != 0 || s.Duplicates != 0 {
			t.Errorf("rate %g: published %d, delivered %d, lost %d, dup %d", s.TargetRate, s.Published, s.Delivered, s.Lost, s.Duplicates)
		}
	}
	// A 1µs threshold is passed at once: the knee is the first rate.
	if k := f.Knee; k == nil || !k.Reached || k.Rate != 20 || k.LastUnder != 0 {
		t.Errorf("knee %+v, want reached at 20 with nothing under", f.Knee)
	}
	paths := svgElements(t, svg, "path")
	if paths != 5 { // p50, p90, p99, max, deliveries/s
		t.Errorf("sweep chart has %d paths, want 5", paths)
	}
}

func TestFanoutResumesKickedSubscribers(t *testing.T) {
	// The hub ends every stream after 5 events; each subscriber reconnects
	// with Last-Event-ID and, the hub replaying what it missed, sees no loss.
	// Both readers: the reactors and a goroutine per stream.
	for _, reader := range []string{"epoll", "goroutines"} {
		t.Run(reader, func(t *testing.T) {
			rep := benchFixture(t, func(h *fixtureHub) { h.kickAfter = 5 }, ExitOK,
				"fanout", "-n", "20", "--rate", "40", "--duration", "1s", "--reader", reader)
			f := rep.Fanout
			if f.Drops != 20 || f.Reconnects != 20 {
				t.Errorf("drops %d, reconnects %d; want 20 each", f.Drops, f.Reconnects)
			}
			if s := f.Steps[0]; s.Lost != 0 || s.Duplicates != 0 || s.Delivered != s.Published*20 {
				t.Errorf("lost %d, duplicated %d, delivered %d of %d", s.Lost, s.Duplicates, s.Delivered, s.Published*20)
			}
		})
	}
}

func TestFanoutNoticesDuplicates(t *testing.T) {
	rep := benchFixture(t, func(h *fixtureHub) { h.dupLiveEvery = 7 }, ExitInexact,
		"fanout", "-n", "10", "--rate", "50", "--duration", "500ms")
	if s := rep.Fanout.Steps[0]; s.Duplicates == 0 || s.Lost != 0 || len(rep.Problems) == 0 {
		t.Errorf("duplicates %d, lost %d, problems %q", s.Duplicates, s.Lost, rep.Problems)
	}
}

func TestPublish(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "publish.svg")
	rep := benchFixture(t, nil, ExitOK, "publish", "-c", "4", "--duration", "500ms", "--svg", svg)
	p := rep.Publish
	if p.Published == 0 || p.Errors != 0 || p.PublishesPerSec <= 0 || p.Latency.Count != uint64(p.Published) {
		t.Errorf("published %d, errors %d, %v/s, %d latency samples", p.Published, p.Errors, p.PublishesPerSec, p.Latency.Count)
	}
	if n := svgElements(t, svg, "circle"); n != 5 {
		t.Errorf("percentile chart has %d points, want 5", n)
	}
}

func TestPublishWithoutTokenFails(t *testing.T) {
	_, hub := newFixture(t, nil)
	var stdout, stderr bytes.Buffer
	code := Command(context.Background(), []string{"publish", "--hub", hub, "--duration", "200ms", "--quiet"}, &stdout, &stderr)
	if code != ExitError || !strings.Contains(stderr.String(), "401") {
		t.Errorf("exit %d, stderr %q; want %d and the hub's 401", code, stderr.String(), ExitError)
	}
	code = Command(context.Background(), []string{"fanout", "-n", "2", "--hub", hub, "--quiet"}, &stdout, &stderr)
	if code != ExitError || !strings.Contains(stderr.String(), "--key") {
		t.Errorf("fanout: exit %d, stderr %q; want a hint about --token/--key", code, stderr.String())
	}
}

func TestResume(t *testing.T) {
	testutil.CheckNoLeaks(t)
	svg := filepath.Join(t.TempDir(), "resume.svg")
	rep := benchFixture(t, nil, ExitOK, "resume", "-k", "500", "-c", "4", "--svg", svg)
	r := rep.Resume
	if !r.Exact || r.Received != 500 || r.Published != 500 || r.Missing != 0 {
		t.Errorf("exact %v, received %d, published %d, missing %d", r.Exact, r.Received, r.Published, r.Missing)
	}
	if r.HubLastEventID == "" || r.HubLastEventID == r.ResumedFrom || r.LastEventMS < r.FirstEventMS || r.ReplayRate <= 0 {
		t.Errorf("hub answered %q to %q; first %v ms, last %v ms, %v/s", r.HubLastEventID, r.ResumedFrom, r.FirstEventMS, r.LastEventMS, r.ReplayRate)
	}
	if n := svgElements(t, svg, "path"); n != 1 {
		t.Errorf("replay chart has %d paths, want 1", n)
	}
}

func TestResumeNoticesMissingEvents(t *testing.T) {
	rep := benchFixture(t, func(h *fixtureHub) { h.skipReplayEvery = 10 }, ExitInexact,
		"resume", "-k", "200", "-c", "2", "--drain", "500ms")
	if r := rep.Resume; r.Exact || r.Missing != 20 || r.Received != 180 {
		t.Errorf("exact %v, missing %d, received %d; want false, 20, 180", r.Exact, r.Missing, r.Received)
	}
}

// svgElements checks that the file is well-formed XML whose root is an svg
// element, and counts the elements named name.
func svgElements(t *testing.T, path, name string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return countXML(t, b, name)
}

func countXML(t *testing.T, b []byte, name string) int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	n, root := 0, ""
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == name {
				n++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return n
}

// waitForSubscribers polls the fixture until it holds n subscriptions: a
// finished run leaves no stream open.
func waitForSubscribers(t *testing.T, fx *fixtureHub, n int) {
	t.Helper()
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		if got := fx.subscribers(); got != n {
			return fmt.Errorf("the hub has %d subscriptions, want %d", got, n)
		}
		return nil
	})
}

// A soak samples the hub throughout a long fan-out and compares the end
// with the middle. (The "hub" sampled is this test process, whose memory
// moves with the test's own work: growth may be reported, loss may not.)
func TestSoak(t *testing.T) {
	testutil.CheckNoLeaks(t)
	_, hub := newFixture(t, nil)
	rep, code, stderr := bench(t, hub, "soak", "-n", "20", "--rate", "20", "--duration", "2s",
		"--sample-every", "100ms", "--pid", strconv.Itoa(os.Getpid()))
	if code != ExitOK && code != ExitInexact {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, p := range rep.Problems {
		if !strings.Contains(p, "grew") {
			t.Errorf("problem %q", p)
		}
	}
	if rep.Fanout == nil || len(rep.Fanout.Steps) != 1 || rep.Fanout.Steps[0].Lost != 0 {
		t.Fatalf("soak's fan-out = %+v", rep.Fanout)
	}
	s := rep.Soak
	if s == nil || len(s.Samples) < 10 {
		t.Fatalf("soak samples: %+v", s)
	}
	for _, x := range s.Samples {
		if x.RSSBytes == nil || x.Goroutines == nil || x.OpenFiles == nil || *x.OpenFiles <= 0 {
			t.Fatalf("sample %+v lacks a figure", x)
		}
	}
	if len(s.Growth) != 3 {
		t.Errorf("growth %+v, want RSS, goroutines and open files", s.Growth)
	}
}

func TestSoakGrowthIsAProblem(t *testing.T) {
	var samples []soakSample
	for i := range 9 {
		rss := int64(100 << 20)
		if i >= 6 {
			rss = 150 << 20 // the last third grew by half
		}
		samples = append(samples, soakSample{Seconds: float64(i), RSSBytes: &rss})
	}
	g := growthOf(samples)
	if len(g) != 1 || g[0].Figure != "RSS" || g[0].Change < 0.49 || g[0].Change > 0.51 {
		t.Fatalf("growth = %+v", g)
	}
	rep := &report{Fanout: &fanoutReport{}, Soak: &soakReport{Growth: g}}
	if p := rep.problems(); len(p) != 1 || !strings.Contains(p[0], "RSS grew 50%") {
		t.Errorf("problems = %v", p)
	}
}
