package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestHelpListsScenariosAndFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Command(context.Background(), []string{"--help"}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"idle", "fanout", "publish", "resume", "-rates", "-procs", "-pid", "-svg", "-transport", "-window", "herald.v1", DefaultHub,
		"db-write", "db-fanout", "db-spread", "db-snapshot", "db-resume", "-nodes", "-path", "Last-Event-ID", "-resume-hub", "comma-separated"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
	if strings.Contains(stdout.String(), childFlag) {
		t.Errorf("--help shows the hidden %s mode", childFlag)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		ok   bool
		want func(config) bool
	}{
		{[]string{"fanout", "-n", "7", "--rates", "10,20"}, ExitOK, true, func(c config) bool {
			return c.subscribers == 7 && len(c.rates) == 2 && c.duration == 10*time.Second
		}},
		{[]string{"-n", "7", "idle", "--duration", "1s"}, ExitOK, true, func(c config) bool {
			return c.scenario == "idle" && c.subscribers == 7 && c.duration == time.Second
		}},
		{[]string{"fanout"}, ExitOK, true, func(c config) bool { return c.subscribers == 100 && c.rates[0] == 100 }},
		{[]string{"idle"}, ExitOK, true, func(c config) bool { return c.subscribers == 1000 }},
		{[]string{}, ExitUsage, false, nil},
		{[]string{"bogus"}, ExitUsage, false, nil},
		{[]string{"idle", "extra"}, ExitUsage, false, nil},
		{[]string{"fanout", "--rates", "10,x"}, ExitUsage, false, nil},
		{[]string{"fanout", "--rates", "10,-1"}, ExitUsage, false, nil},
		{[]string{"publish", "-c", "0"}, ExitUsage, false, nil},
		{[]string{"publish", "--token", "a", "--key", "b"}, ExitUsage, false, nil},
		{[]string{"resume", "-k", "0"}, ExitUsage, false, nil},
		{[]string{"resume", "-k", "100000000"}, ExitUsage, false, nil},
		{[]string{"idle", "-n", "-1"}, ExitUsage, false, nil},
		{[]string{"idle", "--nope"}, ExitUsage, false, nil},
		{[]string{"idle"}, ExitOK, true, func(c config) bool { return c.transport == transportSSE && c.window == 64 }},
		{[]string{"fanout", "--transport", "poll"}, ExitOK, true, func(c config) bool { return c.transport == transportPoll }},
		{[]string{"publish", "--transport", "ws", "--window", "8"}, ExitOK, true, func(c config) bool {
			return c.transport == transportWS && c.window == 8
		}},
		{[]string{"idle", "--transport", "grpc"}, ExitUsage, false, nil},
		{[]string{"publish", "--transport", "poll"}, ExitUsage, false, nil},
		{[]string{"publish", "--transport", "ws", "--window", "0"}, ExitUsage, false, nil},
		{[]string{"resume", "--transport", "ws"}, ExitUsage, false, nil},
		{[]string{"db-spread"}, ExitOK, true, func(c config) bool {
			return c.subscribers == 100 && c.rates[0] == 100 && c.concurrency == 16 && c.db == "auto"
		}},
		{[]string{"db-snapshot"}, ExitOK, true, func(c config) bool { return c.subscribers == 5 && c.nodes == 100_000 }},
		{[]string{"db-write"}, ExitOK, true, func(c config) bool { return c.duration == 10*time.Second }},
		{[]string{"db-fanout", "--transport", "ws"}, ExitUsage, false, nil},
		{[]string{"db-fanout", "--topic", "x"}, ExitUsage, false, nil},
		{[]string{"db-snapshot", "--nodes", "100"}, ExitUsage, false, nil},
		{[]string{"db-write", "--path", "/"}, ExitUsage, false, nil},
		{[]string{"db-write", "--path", "bench"}, ExitUsage, false, nil},
		{[]string{"db-resume", "-k", "0"}, ExitUsage, false, nil},
	} {
		var stdout, stderr bytes.Buffer
		cfg, code, ok := parseArgs(tc.args, &stdout, &stderr)
		if code != tc.code || ok != tc.ok {
			t.Errorf("%q: code %d ok %v, want %d %v (stderr %q)", tc.args, code, ok, tc.code, tc.ok, stderr.String())
			continue
		}
		if tc.want != nil && !tc.want(cfg) {
			t.Errorf("%q: config %+v", tc.args, cfg)
		}
		if !ok && code == ExitUsage && !strings.Contains(stderr.String(), "--help") {
			t.Errorf("%q: the error does not point to --help: %q", tc.args, stderr.String())
		}
	}
}

func TestSubscribersBeyondFileLimitNeedMoreProcesses(t *testing.T) {
	r := &runner{cfg: config{procs: 2}, fileLimit: 2000, nodes: make([]*target, 1)}
	if _, _, err := r.startGroups(5000); err == nil || !strings.Contains(err.Error(), "--procs 5") {
		t.Errorf("5000 subscribers over 2 processes of 1000 sockets: %v, want advice to use --procs 5", err)
	}
	if got := perProcessSockets(20000); got != 19000 {
		t.Errorf("per-process sockets at a 20000 file limit = %d, want 19000", got)
	}
}
