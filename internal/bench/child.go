package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// A run with more subscribers than one process may hold spreads them over
// child processes: the same executable re-run as `herald bench --child`.
// The parent writes requests to the child's stdin and the child answers on
// its stdout, one JSON object per line each way:
//
//	parent -> child   {"op":"start","spec":{...}}   first, once
//	                  {"op":"collect","step":N}
//	                  {"op":"finish"}
//	child -> parent   {"kind":"status","status":{...}}      every statusEvery
//	                  {"kind":"collected","step":{...}}     answers collect
//	                  {"kind":"finished","result":{...}}    answers finish, then exits
//	                  {"kind":"error","error":"..."}        then exits
//
// A child whose stdin closes (its parent died) stops at once, so no child
// outlives a run.

// childFlag is the hidden argument that selects child mode.
const childFlag = "--child"

// errParentGone ends a child whose parent closed its stdin: the parent
// stopped the run, and has said why.
var errParentGone = errors.New("bench child: parent went away")

// statusEvery is how often a child reports its counters.
const statusEvery = 100 * time.Millisecond

type childRequest struct {
	Op   string     `json:"op"`
	Spec *groupSpec `json:"spec,omitempty"`
	Step int        `json:"step,omitempty"`
}

type childMessage struct {
	Kind   string       `json:"kind"`
	Status *groupStatus `json:"status,omitempty"`
	Step   *stepResult  `json:"step,omitempty"`
	Result *groupResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// runChild serves the child side of the protocol until finish, an error or
// the end of in.
func runChild(ctx context.Context, in io.Reader, out io.Writer) error {
	// Cancelling releases the request reader if it is blocked handing over.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // one message per line, even with the status ticker
	enc := json.NewEncoder(out)
	send := func(m childMessage) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(m)
	}
	fail := func(err error) error {
		send(childMessage{Kind: "error", Error: err.Error()})
		return err
	}

	requests := make(chan childRequest)
	readErr := make(chan error, 1)
	go func() {
		dec := json.NewDecoder(bufio.NewReader(in))
		for {
			var req childRequest
			if err := dec.Decode(&req); err != nil {
				readErr <- err
				return
			}
			select {
			case requests <- req:
			case <-ctx.Done():
				return
			}
		}
	}()

	var p *pool
	defer func() {
		if p != nil {
			p.finish()
		}
	}()
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return errParentGone
			}
			return fail(fmt.Errorf("bench child: reading request: %w", err))
		case <-tick.C:
			if p != nil {
				st := p.status()
				if err := send(childMessage{Kind: "status", Status: &st}); err != nil {
					return err
				}
			}
		case req := <-requests:
			switch {
			case req.Op == "start" && p == nil && req.Spec != nil:
				var err error
				if p, err = startPool(*req.Spec); err != nil {
					return fail(err)
				}
			case req.Op == "collect" && p != nil:
				r := p.collect(req.Step)
				if err := send(childMessage{Kind: "collected", Step: &r}); err != nil {
					return err
				}
			case req.Op == "finish" && p != nil:
				r := p.finish()
				p = nil
				return send(childMessage{Kind: "finished", Result: &r})
			default:
				return fail(fmt.Errorf("bench child: unexpected request %q", req.Op))
			}
		}
	}
}

// group is a set of subscribers the parent drives, here or in a child.
type group interface {
	status() groupStatus
	collect(ctx context.Context, step int) (stepResult, error)
	finish(ctx context.Context) (groupResult, error)
	// abort stops a group that will not be finished; it is a no-op after
	// finish.
	abort()
}

// localGroup is a pool in this process.
type localGroup struct{ p *pool }

func (g localGroup) status() groupStatus { return g.p.status() }

func (g localGroup) collect(_ context.Context, step int) (stepResult, error) {
	return g.p.collect(step), nil
}

func (g localGroup) finish(context.Context) (groupResult, error) { return g.p.finish(), nil }

func (g localGroup) abort() { g.p.finish() }

// childGroup is a pool in a child process.
type childGroup struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan childMessage
	done    chan struct{} // closed when the child's output ends
	mu      sync.Mutex
	last    groupStatus
	err     error // why the output ended early; read after done
	once    sync.Once
}

// childArgs are the arguments after the executable that select child mode:
// the CLI routes "bench" to Command, which sees childFlag first.
var childArgs = []string{"bench", childFlag}

// startChild starts a child process holding spec's subscribers. Its stderr
// goes to stderr, so its complaints reach the user.
func startChild(spec groupSpec, stderr io.Writer) (*childGroup, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: finding own executable for --procs: %w", err)
	}
	cmd := exec.Command(exe, childArgs...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting child: %w", err)
	}
	g := &childGroup{
		cmd: cmd, stdin: stdin,
		replies: make(chan childMessage, 1), done: make(chan struct{}),
	}
	go g.read(stdout)
	if err := g.send(childRequest{Op: "start", Spec: &spec}); err != nil {
		g.abort()
		return nil, err
	}
	return g, nil
}

// read dispatches the child's messages until its output ends.
func (g *childGroup) read(stdout io.Reader) {
	defer close(g.done)
	dec := json.NewDecoder(bufio.NewReader(stdout))
	for {
		var m childMessage
		if err := dec.Decode(&m); err != nil {
			g.err = fmt.Errorf("bench: child %d stopped: %w", g.cmd.Process.Pid, err)
			return
		}
		switch m.Kind {
		case "status":
			if m.Status != nil {
				g.mu.Lock()
				g.last = *m.Status
				g.mu.Unlock()
			}
		case "error":
			g.err = fmt.Errorf("bench: child %d: %s", g.cmd.Process.Pid, m.Error)
			return
		default:
			g.replies <- m
		}
	}
}

func (g *childGroup) send(req childRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := g.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("bench: writing to child: %w", err)
	}
	return nil
}

// call sends req and waits for the reply of the wanted kind.
func (g *childGroup) call(ctx context.Context, req childRequest, want string) (childMessage, error) {
	if err := g.send(req); err != nil {
		return childMessage{}, err
	}
	select {
	case m := <-g.replies:
		if m.Kind != want {
			return m, fmt.Errorf("bench: child answered %q to %q", m.Kind, req.Op)
		}
		return m, nil
	case <-g.done:
		return childMessage{}, g.err
	case <-ctx.Done():
		return childMessage{}, ctx.Err()
	}
}

func (g *childGroup) status() groupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

func (g *childGroup) collect(ctx context.Context, step int) (stepResult, error) {
	m, err := g.call(ctx, childRequest{Op: "collect", Step: step}, "collected")
	if err != nil {
		return stepResult{}, err
	}
	if m.Step == nil || m.Step.Latency == nil {
		return stepResult{}, errors.New("bench: child sent an empty step result")
	}
	return *m.Step, nil
}

func (g *childGroup) finish(ctx context.Context) (groupResult, error) {
	m, err := g.call(ctx, childRequest{Op: "finish"}, "finished")
	g.abort()
	if err != nil {
		return groupResult{}, err
	}
	if m.Result == nil || m.Result.Connect == nil {
		return groupResult{}, errors.New("bench: child sent an empty result")
	}
	return *m.Result, nil
}

// abort closes the child's stdin, which makes it stop, and reaps it; a child
// that does not exit promptly is killed.
func (g *childGroup) abort() {
	g.once.Do(func() {
		g.stdin.Close()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			g.cmd.Process.Kill()
			<-g.done
		}
		exited := make(chan struct{})
		go func() {
			g.cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			g.cmd.Process.Kill()
			<-exited
		}
	})
}
