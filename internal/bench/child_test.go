package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// childPipe runs the child side of the protocol in this process.
type childPipe struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Scanner
	done chan error
}

func startChildPipe(t *testing.T) *childPipe {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &childPipe{t: t, in: inW, out: bufio.NewScanner(outR), done: make(chan error, 1)}
	c.out.Buffer(nil, 1<<20)
	go func() {
		err := runChild(context.Background(), inR, outW)
		outW.Close()
		c.done <- err
	}()
	t.Cleanup(func() { inW.Close() })
	return c
}

func (c *childPipe) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("writing to the child: %v", err)
	}
}

// next returns the child's next message that is not a status, or, with
// wantStatus, the next status.
func (c *childPipe) next(wantStatus bool) childMessage {
	c.t.Helper()
	for c.out.Scan() {
		var m childMessage
		if err := json.Unmarshal(c.out.Bytes(), &m); err != nil {
			c.t.Fatalf("child wrote a line that is not JSON: %q", c.out.Text())
		}
		if (m.Kind == "status") == wantStatus {
			return m
		}
	}
	c.t.Fatalf("child output ended: %v", c.out.Err())
	return childMessage{}
}

// start sends the child a start request for spec and waits until all its
// subscribers are connected.
func (c *childPipe) start(spec groupSpec) {
	c.t.Helper()
	b, err := json.Marshal(childRequest{Op: "start", Spec: &spec})
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b))
	c.waitStatus(func(st groupStatus) bool { return st.Connected >= int64(spec.Count) })
}

// waitStatus reads the child's statuses until one satisfies done; a
// subscriber that failed to connect ends the test.
func (c *childPipe) waitStatus(done func(groupStatus) bool) {
	c.t.Helper()
	for {
		st := c.next(true).Status
		if st.Failed > 0 {
			c.t.Fatalf("subscribers failed: %s", st.FirstError)
		}
		if done(*st) {
			return
		}
	}
}

func (c *childPipe) exit() error {
	c.t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(10 * time.Second):
		c.t.Fatal("the child did not stop")
		return nil
	}
}

func fixtureSpec(t *testing.T, hub string, count int) groupSpec {
	t.Helper()
	u, err := url.Parse(hub)
	if err != nil {
		t.Fatal(err)
	}
	token, err := mintToken(fixtureKey, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return groupSpec{
		Target:      targetSpec{Hub: hub, Addr: netip.MustParseAddrPort(u.Host).String(), Sources: defaultSources},
		Token:       token,
		Topic:       topicURL("child-test", newRunID()),
		Count:       count,
		Concurrency: 4, ConnectTimeout: 5 * time.Second,
	}
}

func TestChildProtocol(t *testing.T) {
	fx, hub := newFixture(t, nil)
	spec := fixtureSpec(t, hub, 5)
	c := startChildPipe(t)
	c.start(spec)
	tgt, err := newTarget(spec.Target)
	if err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(tgt, spec.Token, 1, 5*time.Second)
	defer pub.close()
	for seq := range uint64(3) {
		data := appendPayload(nil, payload{step: 1, seq: seq + 1, sent: time.Now().UnixNano()}, 0)
		if _, err := pub.publish(context.Background(), spec.Topic, data); err != nil {
			t.Fatal(err)
		}
	}
	c.waitStatus(func(st groupStatus) bool { return st.Received >= 15 })

	c.send(`{"op":"collect","step":1}`)
	m := c.next(false)
	if m.Kind != "collected" || m.Step == nil || m.Step.Delivered != 15 || m.Step.Latency.summary().Count != 15 {
		t.Fatalf("collect answered %+v", m)
	}
	c.send(`{"op":"finish"}`)
	m = c.next(false)
	if m.Kind != "finished" || m.Result == nil || m.Result.Status.EverConnected != 5 || m.Result.Status.Primed != 5 {
		t.Fatalf("finish answered %+v", m)
	}
	if err := c.exit(); err != nil {
		t.Errorf("child ended with %v after finish", err)
	}
	waitForSubscribers(t, fx, 0)
}

func TestChildRefusesBadRequests(t *testing.T) {
	for _, tc := range []struct{ name, input, want string }{
		{"not JSON", "hello", "reading request"},
		{"collect before start", `{"op":"collect","step":1}`, "unexpected request"},
		{"remote target", `{"op":"start","spec":{"target":{"hub":"http://x/","addr":"192.0.2.2:80"},"count":1}}`, "loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChildPipe(t)
			c.send(tc.input)
			m := c.next(false)
			if m.Kind != "error" || !strings.Contains(m.Error, tc.want) {
				t.Errorf("child answered %+v, want an error about %q", m, tc.want)
			}
			if err := c.exit(); err == nil {
				t.Error("child exited without error")
			}
		})
	}
}

func TestChildStopsWhenParentGoes(t *testing.T) {
	fx, hub := newFixture(t, nil)
	spec := fixtureSpec(t, hub, 3)
	c := startChildPipe(t)
	c.start(spec)
	c.in.Close() // the parent died
	if err := c.exit(); err == nil || !strings.Contains(err.Error(), "parent went away") {
		t.Errorf("child ended with %v, want 'parent went away'", err)
	}
	waitForSubscribers(t, fx, 0)
}
