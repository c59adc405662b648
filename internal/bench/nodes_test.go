package bench

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/testutil"
)

// hubList is the --hub value naming every node.
func hubList(nodes []*fixtureNode) string {
	urls := make([]string, len(nodes))
	for i, nd := range nodes {
		urls[i] = nd.url
	}
	return strings.Join(urls, ",")
}

// pidList is a --pid value naming this process once per node: the
// fixture's nodes all run in it.
func pidList(n int) string {
	return strings.TrimSuffix(strings.Repeat(strconv.Itoa(os.Getpid())+",", n), ",")
}

func TestIdleOverSeveralHubs(t *testing.T) {
	fx, nodes := newFixtureNodes(t, 3, nil)
	rep, code, stderr := bench(t, hubList(nodes), "idle", "-n", "31", "--duration", "200ms",
		"--settle", "1s", "--pid", pidList(3))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := rep.Idle
	if r.Connected != 31 || r.OpenAtEnd != 31 || len(rep.Hubs) != 3 {
		t.Fatalf("connected %d, open at end %d, hubs %q; want 31, 31 and the three", r.Connected, r.OpenAtEnd, rep.Hubs)
	}
	if len(r.Nodes) != 3 {
		t.Fatalf("%d nodes in the report, want 3", len(r.Nodes))
	}
	for i, nd := range r.Nodes {
		want := []int64{10, 10, 11}[i]
		if nd.Hub != nodes[i].url || nd.Connected != want || nd.OpenAtEnd != want || nodes[i].subscribes.Load() != want {
			t.Errorf("hub %d: %+v, and it served %d subscribes; want %d connected to %s", i+1, nd, nodes[i].subscribes.Load(), want, nodes[i].url)
		}
		if nd.PID != os.Getpid() || nd.BytesPerConn == nil || nd.RSSBeforeBytes == nil {
			t.Errorf("hub %d: memory figures missing with --pid: %+v", i+1, nd)
		}
	}
	if u := r.ServerConnect; u == nil || len(u.Nodes) != 3 || u.CPUSeconds == nil {
		t.Errorf("server use while connecting = %+v, want the sum and 3 nodes", u)
	}
	waitForSubscribers(t, fx, 0)
}

func TestIdleOverSeveralHubsInChildProcesses(t *testing.T) {
	fx, nodes := newFixtureNodes(t, 2, nil)
	rep, code, stderr := bench(t, hubList(nodes), "idle", "-n", "40", "--procs", "4", "--duration", "100ms")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if r := rep.Idle; r.Procs != 4 || r.Connected != 40 || len(r.Nodes) != 2 {
		t.Fatalf("procs %d, connected %d, nodes %d; want 4, 40, 2", r.Procs, r.Connected, len(r.Nodes))
	}
	for i, nd := range nodes {
		if got := nd.subscribes.Load(); got != 20 {
			t.Errorf("hub %d served %d subscribes, want 20", i+1, got)
		}
	}
	waitForSubscribers(t, fx, 0)
}

func TestFanoutOverSeveralHubs(t *testing.T) {
	testutil.CheckNoLeaks(t)
	_, nodes := newFixtureNodes(t, 3, nil)
	rep, code, stderr := bench(t, hubList(nodes), "fanout", "-n", "30", "--rate", "50", "--duration", "500ms")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s := rep.Fanout.Steps[0]
	if s.Published == 0 || s.Delivered != s.Published*30 || s.Lost != 0 || s.Duplicates != 0 {
		t.Errorf("published %d, delivered %d, lost %d, dup %d", s.Published, s.Delivered, s.Lost, s.Duplicates)
	}
	// Every node holds its share; the events come from the first, and
	// reach the others through the hub they share.
	for i, nd := range nodes {
		if got := nd.subscribes.Load(); got != 10 {
			t.Errorf("hub %d served %d subscribes, want 10", i+1, got)
		}
		if got := nd.publish.Load(); (i == 0) != (got > 0) {
			t.Errorf("hub %d served %d publishes; only the first should publish", i+1, got)
		}
	}
}

func TestPublishOverSeveralHubs(t *testing.T) {
	_, nodes := newFixtureNodes(t, 3, nil)
	rep, code, stderr := bench(t, hubList(nodes), "publish", "-c", "5", "--duration", "300ms", "--pid", pidList(3))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p := rep.Publish
	var served int64
	for i, nd := range nodes {
		got := nd.publish.Load()
		if got == 0 {
			t.Errorf("hub %d served no publish", i+1)
		}
		served += got
	}
	// A publish the deadline cancels may have reached its hub uncounted.
	if p.Published == 0 || served < p.Published || served > p.Published+5 {
		t.Errorf("the bench counted %d publishes, the hubs served %d", p.Published, served)
	}
	if p.Server == nil || len(p.Server.Nodes) != 3 {
		t.Errorf("server use = %+v, want 3 nodes", p.Server)
	}
}

func TestResumeOnAnotherHub(t *testing.T) {
	testutil.CheckNoLeaks(t)
	_, nodes := newFixtureNodes(t, 2, nil)
	rep, code, stderr := bench(t, nodes[0].url, "resume", "-k", "300", "-c", "4", "--resume-hub", nodes[1].url)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := rep.Resume
	if !r.Exact || r.Received != 300 || r.ResumedOn != nodes[1].url {
		t.Errorf("exact %v, received %d, resumed on %q; want true, 300, %q", r.Exact, r.Received, r.ResumedOn, nodes[1].url)
	}
	if a, b := nodes[0].resumes.Load(), nodes[1].resumes.Load(); a != 0 || b != 1 {
		t.Errorf("resumes served: first hub %d, second %d; want 0 and 1", a, b)
	}
	if got := nodes[1].publish.Load(); got != 0 {
		t.Errorf("the hub resumed on served %d publishes, want none", got)
	}
}

func TestResumePublishesOverSeveralHubs(t *testing.T) {
	_, nodes := newFixtureNodes(t, 3, nil)
	rep, code, stderr := bench(t, hubList(nodes), "resume", "-k", "300", "-c", "6", "--resume-hub", nodes[2].url)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if r := rep.Resume; !r.Exact || r.Received != 300 {
		t.Errorf("exact %v, received %d of 300", r.Exact, r.Received)
	}
	// The publishers draw the events from one counter, each as fast as
	// its hub answers: every hub takes some, all take the 300.
	var served int64
	for i, nd := range nodes {
		if nd.publish.Load() == 0 {
			t.Errorf("hub %d served no publish", i+1)
		}
		served += nd.publish.Load()
	}
	if served < 300 {
		t.Errorf("the hubs served %d publishes, want the 300 at least", served)
	}
}

func TestParseArgsOfSeveralHubs(t *testing.T) {
	const two = "http://127.0.0.1:1/h,http://127.0.0.1:2/h"
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"idle", "--hub", two, "--pid", "10,11"}, true},
		{[]string{"fanout", "--hub", two}, true},
		{[]string{"publish", "--hub", two, "--procs", "2"}, true},
		{[]string{"resume", "--hub", two, "--resume-hub", "http://127.0.0.1:3/h"}, true},
		{[]string{"resume", "--resume-hub", "http://127.0.0.1:3/h"}, true},
		{[]string{"idle", "--pid", "10"}, true},
		{[]string{"idle", "--hub", two, "--pid", "10"}, false},
		{[]string{"idle", "--pid", "10,11"}, false},
		{[]string{"idle", "--pid", "x"}, false},
		{[]string{"idle", "--pid", "-1"}, false},
		{[]string{"idle", "--hub", "http://127.0.0.1:1/h,,http://127.0.0.1:2/h"}, false},
		{[]string{"idle", "--hub", two, "--procs", "1"}, false},
		{[]string{"idle", "--hub", two, "--metrics", "http://127.0.0.1:1/metrics"}, false},
		{[]string{"soak", "--hub", two}, false},
		{[]string{"db-write", "--hub", two}, false},
		{[]string{"fanout", "--resume-hub", "http://127.0.0.1:3/h"}, false},
	} {
		var stdout, stderr bytes.Buffer
		_, code, ok := parseArgs(tc.args, &stdout, &stderr)
		if ok != tc.ok || (!ok && code != ExitUsage) {
			t.Errorf("%q: code %d ok %v, want ok %v (stderr %q)", tc.args, code, ok, tc.ok, stderr.String())
		}
	}
}

func TestSubscribersOfSeveralHubsBeyondFileLimit(t *testing.T) {
	r := &runner{cfg: config{procs: 3}, fileLimit: 1100, nodes: make([]*target, 3)}
	// 1,000 over 3 hubs is 334 on one, in one process of 100 sockets: 4
	// processes for each hub.
	if _, _, err := r.startGroups(1000); err == nil || !strings.Contains(err.Error(), "--procs 12") {
		t.Errorf("1000 subscribers over 3 hubs, a process each: %v, want advice to use --procs 12", err)
	}
}

func TestProbeSumsSeveralProcesses(t *testing.T) {
	pid := os.Getpid()
	p, notes := newServerProbe(context.Background(), []int{pid, pid}, nil, false)
	if len(notes) != 0 {
		t.Fatalf("notes %q", notes)
	}
	s := p.sample(context.Background())
	if len(s.Nodes) != 2 || s.RSSBytes == nil || s.CPUSeconds == nil {
		t.Fatalf("sample %+v, want a sum and 2 nodes", s)
	}
	if *s.RSSBytes != *s.Nodes[0].RSSBytes+*s.Nodes[1].RSSBytes || *s.CPUSeconds != *s.Nodes[0].CPUSeconds+*s.Nodes[1].CPUSeconds {
		t.Errorf("RSS %d and CPU %v are not the sums of %+v and %+v", *s.RSSBytes, *s.CPUSeconds, s.Nodes[0], s.Nodes[1])
	}
	// One process that cannot be read drops them all: a partial sum would
	// pass for the whole.
	p, notes = newServerProbe(context.Background(), []int{pid, 1 << 30}, nil, false)
	if p.enabled() || len(notes) != 1 {
		t.Errorf("with an unknown PID: enabled %v, notes %q", p.enabled(), notes)
	}
}
