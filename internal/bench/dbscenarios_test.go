package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/testutil"
)

// The state tree scenarios run against Herald with its tree, in this
// process, on a memory journal that keeps ret.

const dbAdminToken = "bench-admin-token"

// startHeraldDB runs Herald with the state tree at /db and returns its hub
// URL and the JWT secret; dbAdminToken may read and write the whole tree.
func startHeraldDB(t *testing.T, ret journal.Retention) (url, secret string) {
	t.Helper()
	secret = "bench-state-secret-of-32-bytes!!!!"
	key, err := auth.ParseKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	j := journal.NewMemory(ret)
	store, err := state.Open(state.Config{Journal: j}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(j, hub.Config{})
	testutil.RunHub(t, h)
	srv, err := server.New(server.Config{
		Hub: h, Journal: j, PublisherKey: &key, SubscriberKey: &key, Heartbeat: -1,
		State: store, DBAdminToken: dbAdminToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Drain(); ts.Close(); store.Close() })
	return ts.URL + "/.well-known/mercure", secret
}

// benchDB runs Command with the admin token, as the measurements do (the
// others mint a JWT with --key), and decodes the report.
func benchDB(t *testing.T, hub string, want int, args ...string) *report {
	t.Helper()
	args = append([]string{args[0], "--hub", hub, "--token", dbAdminToken, "--json", "--quiet", "--timeout", "60s"}, args[1:]...)
	var stdout, stderr bytes.Buffer
	if code := Command(context.Background(), args, &stdout, &stderr); code != want {
		t.Fatalf("exit %d, want %d: %s\n%s", code, want, stderr.String(), stdout.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the JSON report: %v\n%s", err, stdout.String())
	}
	return &rep
}

func TestDBWrite(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, _ := startHeraldDB(t, journal.Retention{})
	svg := t.TempDir() + "/write.svg"
	rep := benchDB(t, url, ExitOK, "db-write", "-c", "4", "--duration", "300ms", "--svg", svg)
	w := rep.DBWrite
	if w == nil || w.Writers != 4 || w.Written == 0 || w.Errors != 0 || w.WritesPerSec <= 0 || w.Latency.Count != uint64(w.Written) {
		t.Fatalf("db-write report %+v", w)
	}
	if !strings.HasPrefix(rep.Path, strings.TrimSuffix(url, "/.well-known/mercure")+"/db/bench/db-write/") {
		t.Errorf("path %q is not under the hub's /db/bench", rep.Path)
	}
	if n := svgElements(t, svg, "circle"); n != 5 {
		t.Errorf("percentile chart has %d points, want 5", n)
	}
}

// A token the tree does not know: the run stops at the first write and
// says how to give the bench one it accepts.
func TestDBWriteRefused(t *testing.T) {
	url, _ := startHeraldDB(t, journal.Retention{})
	var stdout, stderr bytes.Buffer
	code := Command(context.Background(), []string{"db-write", "--hub", url, "--token", "nope", "-c", "2", "--duration", "200ms", "--quiet"}, &stdout, &stderr)
	if code != ExitError || !strings.Contains(stderr.String(), "401") || !strings.Contains(stderr.String(), "--db-admin-token") {
		t.Errorf("exit %d, stderr %q; want %d, the hub's 401 and a hint", code, stderr.String(), ExitError)
	}
}

// Every stream of the watched location receives every change, as a put
// of the leaf below it. The bench's JWT (--key) carries the db grants.
func TestDBFanout(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, secret := startHeraldDB(t, journal.Retention{})
	rep := benchOK(t, url, "db-fanout", "-n", "20", "--rate", "50", "--duration", "500ms", "--key", secret)
	checkExact(t, rep, 20)
	if rep.Fanout.Writers != 1 || rep.Fanout.Unprimed != 0 {
		t.Errorf("writers %d, unprimed %d; want 1, 0", rep.Fanout.Writers, rep.Fanout.Unprimed)
	}
}

// Streams on locations of their own, in two child processes: each change
// reaches the one stream watching its location, once.
func TestDBSpreadOverChildProcesses(t *testing.T) {
	url, _ := startHeraldDB(t, journal.Retention{})
	rep := benchDB(t, url, ExitOK, "db-spread", "-n", "30", "--procs", "2", "-c", "4", "--rate", "120", "--duration", "500ms")
	f := rep.Fanout
	if f.Connected != 30 || f.Procs != 2 || f.Writers != 4 || len(f.Steps) != 1 {
		t.Fatalf("connected %d, procs %d, writers %d, %d steps", f.Connected, f.Procs, f.Writers, len(f.Steps))
	}
	if s := f.Steps[0]; s.Published < 30 || s.Expected != s.Published || s.Delivered != s.Published || s.Lost != 0 || s.Duplicates != 0 {
		t.Errorf("written %d, expected %d, delivered %d, lost %d, duplicated %d", s.Published, s.Expected, s.Delivered, s.Lost, s.Duplicates)
	}
	if f.Late != 0 || f.Foreign != 0 {
		t.Errorf("%d late, %d foreign", f.Late, f.Foreign)
	}
}

// The tree comes back exactly as written, by GET and as a stream's first
// put; with --pid (this process is the hub) the peak RSS is reported.
func TestDBSnapshot(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, _ := startHeraldDB(t, journal.Retention{})
	rep := benchDB(t, url, ExitOK, "db-snapshot", "--nodes", "3001", "-n", "2", "-c", "3", "--settle", "100ms",
		"--pid", strconv.Itoa(os.Getpid()))
	s := rep.DBSnapshot
	if s == nil || s.Nodes != 3001 || s.Reads != 2 || s.Concurrent != 3 {
		t.Fatalf("db-snapshot report %+v", s)
	}
	for name, rd := range map[string]dbReads{"get": s.Get, "stream": s.Stream, "concurrent get": s.ConcurrentGet, "concurrent stream": s.ConcurrentStream} {
		want := uint64(2)
		if strings.HasPrefix(name, "concurrent") {
			want = 3
		}
		if rd.Failed != 0 || rd.Mismatched != 0 || rd.Complete.Count != want || rd.Complete.MaxMS < rd.Headers.MaxMS {
			t.Errorf("%s: %+v", name, rd)
		}
	}
	if s.Memory == nil || s.Memory.RSSBeforeBytes <= 0 {
		t.Errorf("memory %+v, want the hub's RSS", s.Memory)
	}
}

func TestDBResume(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, _ := startHeraldDB(t, journal.Retention{})
	rep := benchDB(t, url, ExitOK, "db-resume", "-k", "300", "-c", "3")
	r := rep.Resume
	if !r.Exact || r.Received != 300 || r.Published != 300 || r.Snapshots != 0 || r.Unexpected != 0 {
		t.Errorf("exact %v, received %d of %d, %d puts of the whole location, %d unexpected", r.Exact, r.Received, r.Published, r.Snapshots, r.Unexpected)
	}
	if r.ResumedFrom == "" || r.LastEventMS < r.FirstEventMS || len(r.Progress) < 2 {
		t.Errorf("resumed from %q, first %v ms, last %v ms, %d progress points", r.ResumedFrom, r.FirstEventMS, r.LastEventMS, len(r.Progress))
	}
}

// A journal that no longer holds the resume point: the hub puts the whole
// location again, and the bench reports it, and the changes that never
// came, as problems.
func TestDBResumeNoticesAPutOfTheWholeLocation(t *testing.T) {
	url, _ := startHeraldDB(t, journal.Retention{MaxEvents: 50})
	rep := benchDB(t, url, ExitInexact, "db-resume", "-k", "200", "-c", "2", "--drain", "300ms")
	if r := rep.Resume; r.Exact || r.Snapshots != 1 || r.Missing != 200 {
		t.Errorf("exact %v, %d puts of the whole location, %d missing; want false, 1, 200", r.Exact, r.Snapshots, r.Missing)
	}
	if !strings.Contains(strings.Join(rep.Problems, "\n"), "whole location") {
		t.Errorf("problems %q do not name the put of the whole location", rep.Problems)
	}
}
