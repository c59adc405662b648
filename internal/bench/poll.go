package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// pollWait is the wait each long poll asks for; the hub caps it (Herald at
// --poll-max-wait, 30 s by default).
const pollWait = 30 * time.Second

// maxAnswer bounds one poll answer; Herald stops an answer at 1 MiB of
// events.
const maxAnswer = 4 << 20

// poller is one long poller on a keep-alive connection of its own. Like
// stream, it writes its HTTP/1.1 requests itself, holding no goroutine
// beyond the subscriber's and no net/http transport: 5,000 pollers each
// polling tens of times a second would spend more of the shared cores in
// net/http's per-request machinery than the hub spends answering.
//
// It yields the events of each answer in order, then polls again with the
// answer's lastEventID as cursor (at once when the answer said more).
type poller struct {
	conn   net.Conn
	br     *bufio.Reader
	head   string // the request line up to the cursor
	tail   string // the headers
	cur    []byte // the cursor to send next
	start  string // the cursor of the first answer
	member []byte // the poller's identity, sent back for presence
	body   bytes.Buffer
	events elements // the answer's events not yet yielded
	closed bool     // the hub said Connection: close

	// sent and answered (Unix ns) bracket the poll whose events are being
	// yielded; first is set while its first event has not been yielded.
	sent, answered int64
	first          bool

	id, data []byte
}

// startPoll opens a poller: a short poll that answers at once with the
// cursor to hold (and any events due after req.lastEventID). It returns
// once that answer is read: that is when the poller counts as connected.
func (t *target) startPoll(ctx context.Context, req subscribeRequest) (*poller, error) {
	conn, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p := &poller{conn: conn, br: bufio.NewReaderSize(conn, 2048), cur: []byte(req.lastEventID)}
	p.head, p.tail = t.pollHead(req)
	if err := p.poll(0); err != nil {
		conn.Close()
		return nil, err
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	p.start = string(p.cur)
	return p, nil
}

// pollHead is a poll request around its cursor and wait: the request line
// up to them, and the headers after.
func (t *target) pollHead(req subscribeRequest) (head, tail string) {
	q := t.hub.Query()
	q.Add("topic", req.topic)
	for _, t := range req.topics {
		q.Add("topic", t)
	}
	path := t.hub.EscapedPath()
	if path == "" {
		path = "/"
	}
	head = fmt.Sprintf("GET %s?%s&lastEventID=", path, q.Encode())
	var b strings.Builder
	fmt.Fprintf(&b, " HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nUser-Agent: herald-bench\r\n", t.hub.Host)
	if req.token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", req.token)
	}
	b.WriteString("\r\n")
	return head, b.String()
}

// poll sends one poll and reads its answer.
func (p *poller) poll(wait time.Duration) error {
	if p.closed {
		return fmt.Errorf("%w (Connection: close)", errStreamEnded)
	}
	var b []byte
	b = append(b, p.head...)
	b = append(b, url.QueryEscape(string(p.cur))...)
	b = fmt.Appendf(b, "&wait=%g", wait.Seconds())
	if len(p.member) > 0 {
		b = append(b, "&subscriber="...)
		b = append(b, url.QueryEscape(string(p.member))...)
	}
	b = append(b, p.tail...)
	sent := time.Now()
	if wait > 0 {
		// A hub that holds a poll far past its wait is hung.
		p.conn.SetDeadline(sent.Add(wait + 30*time.Second))
	}
	if _, err := p.conn.Write(b); err != nil {
		return err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errStreamEnded
		}
		return err
	}
	p.body.Reset()
	_, err = p.body.ReadFrom(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if err != nil {
		return err
	}
	p.answered, p.sent = time.Now().UnixNano(), sent.UnixNano()
	p.closed = resp.Close
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("poll: hub answered %s: %.256s", resp.Status, bytes.TrimSpace(p.body.Bytes()))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("poll: hub answered Content-Type %q, not application/json", ct)
	}
	return p.read(p.body.Bytes())
}

// read takes in an answer: its events to yield and the cursor after them.
func (p *poller) read(answer []byte) error {
	var events []byte
	cursor := false
	m := objectMembers(answer)
	for k, v, ok := m.next(); ok; k, v, ok = m.next() {
		switch string(k) {
		case "events":
			events = v
		case "lastEventID":
			p.cur, cursor = appendUnquoted(p.cur[:0], v)
		case "subscriber":
			p.member, _ = appendUnquoted(p.member[:0], v)
		}
	}
	if m.bad || events == nil || !cursor {
		return fmt.Errorf("poll: malformed answer %.200q", answer)
	}
	p.events = arrayElements(events)
	p.first = true
	return nil
}

// next returns the next event's ID and data, polling when the last
// answer's events are all yielded.
func (p *poller) next() (id, data []byte, err error) {
	for {
		ev, ok := p.events.next()
		if !ok {
			if p.events.bad {
				return nil, nil, fmt.Errorf("poll: malformed events %.200q", p.events.b)
			}
			if err := p.poll(pollWait); err != nil {
				return nil, nil, err
			}
			continue
		}
		p.id, p.data = p.id[:0], p.data[:0]
		valid := true
		m := objectMembers(ev)
		for k, v, more := m.next(); more && valid; k, v, more = m.next() {
			switch string(k) {
			case "id":
				p.id, valid = appendUnquoted(p.id, v)
			case "data":
				p.data, valid = appendUnquoted(p.data, v)
			}
		}
		if !valid || m.bad {
			return nil, nil, fmt.Errorf("poll: malformed event %.200q", ev)
		}
		return p.id, p.data, nil
	}
}

// pollTrip is when a poll was sent and answered (Unix ns); first says the
// event just yielded was its answer's first.
type pollTrip struct {
	sent, answered int64
	first          bool
}

// roundTrip is the pollTrip of the poll that brought the event next just
// returned.
func (p *poller) roundTrip() pollTrip {
	rt := pollTrip{sent: p.sent, answered: p.answered, first: p.first}
	p.first = false
	return rt
}

func (p *poller) cursor() string { return p.start }

func (p *poller) close() error { return p.conn.Close() }
