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

// stream is one SSE subscription over a connection of its own. It speaks
// just enough HTTP/1.1 to subscribe, and parses only the id and data fields:
// at 15,000 subscribers net/http's two goroutines and two buffers per
// connection would cost the client more than the server being measured.
//
// The parser follows the WHATWG rules for what it reads (LF or CRLF line
// ends, comments, one optional space after the colon, data lines joined
// with LF, the last event ID kept across events); a lone CR as line end,
// which neither Herald nor Mercure emit, is not recognised.
type stream struct {
	conn net.Conn
	body *bufio.Reader
	// lastEventID is the Last-Event-ID response header (Mercure puts the
	// ID replay started from there, or "earliest").
	lastEventID string

	id    []byte // last event ID buffer; persists across events per the spec
	data  []byte
	event []byte // the event type of the last event ("" for message)
	line  []byte // holds a line longer than the read buffer, or cut by a read
	// hasData is set once the event being read has a data line;
	// dispatched once handleLine has returned it.
	hasData, dispatched bool
	// raw reads the connection under body; with chunked, the response
	// is chunked and only body can read it (see detach).
	raw     *bufio.Reader
	chunked bool
}

// maxLine bounds one line of the stream, so that a broken hub cannot make
// the client buffer without limit.
const maxLine = 1 << 20

// errStreamEnded reports a subscription the hub closed.
var errStreamEnded = errors.New("hub closed the stream")

// subscribeRequest is what one subscription asks for.
type subscribeRequest struct {
	topic  string
	topics []string // more topic selectors, after topic
	// path, when not empty, is the escaped URL path of a state tree
	// location (ending in .json) to stream instead of topics.
	path        string
	token       string
	lastEventID string
}

// subscribe opens a subscription and returns once the hub has sent its
// response headers: that is when the subscriber counts as connected.
func (t *target) subscribe(ctx context.Context, req subscribeRequest) (*stream, error) {
	conn, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	// The deadline covers the request and the response headers; a hub that
	// accepts the connection and then says nothing must not hang a run.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := io.WriteString(conn, t.subscribeHead(req)); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		conn.Close()
		return nil, fmt.Errorf("subscribe: hub answered %s: %s", resp.Status, bytes.TrimSpace(snippet))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		conn.Close()
		return nil, fmt.Errorf("subscribe: hub answered Content-Type %q, not text/event-stream", ct)
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	conn.SetDeadline(time.Time{})
	return &stream{
		conn:        conn,
		body:        bufio.NewReaderSize(resp.Body, 2048),
		lastEventID: resp.Header.Get("Last-Event-ID"),
		raw:         br,
		chunked:     len(resp.TransferEncoding) > 0,
	}, nil
}

// subscribeHead is the HTTP/1.1 request that opens a subscription.
func (t *target) subscribeHead(req subscribeRequest) string {
	var b strings.Builder
	if req.path != "" {
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", req.path, t.hub.Host)
	} else {
		q := t.hub.Query()
		q.Add("topic", req.topic)
		for _, t := range req.topics {
			q.Add("topic", t)
		}
		path := t.hub.EscapedPath()
		if path == "" {
			path = "/"
		}
		fmt.Fprintf(&b, "GET %s?%s HTTP/1.1\r\nHost: %s\r\n", path, q.Encode(), t.hub.Host)
	}
	b.WriteString("Accept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: herald-bench\r\n")
	if req.token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", req.token)
	}
	if req.lastEventID != "" {
		fmt.Fprintf(&b, "Last-Event-ID: %s\r\n", sanitizeHeader(req.lastEventID))
	}
	b.WriteString("\r\n")
	return b.String()
}

// sanitizeHeader drops the characters that would end a header early; an ID
// the hub sent us can contain anything but CR, LF or NUL anyway.
func sanitizeHeader(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, v)
}

// next returns the next event's ID and data; s.event holds its type. All
// alias buffers of s that the following call overwrites. An event with no
// data line is skipped, as an EventSource skips it.
func (s *stream) next() (id, data []byte, err error) {
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = errStreamEnded
			}
			return nil, nil, err
		}
		if s.handleLine(line) {
			return s.id, s.data, nil
		}
	}
}

// handleLine takes one line of the stream, without its end; it reports
// true when the line ends an event, whose ID and data are then s.id and
// s.data (and its type s.event) until the next call.
func (s *stream) handleLine(line []byte) bool {
	if s.dispatched {
		s.data, s.event, s.hasData, s.dispatched = s.data[:0], s.event[:0], false, false
	}
	if len(line) == 0 {
		if s.hasData {
			s.dispatched = true
			return true
		}
		s.event = s.event[:0]
		return false
	}
	if line[0] == ':' {
		return false
	}
	field, value, found := bytes.Cut(line, []byte(":"))
	if found && len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(field) {
	case "data":
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.hasData = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			s.id = append(s.id[:0], value...)
		}
	case "event":
		s.event = append(s.event[:0], value...)
	}
	return false
}

// feed parses bytes read from the stream, calling emit for each event
// they end; a line cut at the end of p waits in s.line for the next call.
// It is next for a reader that reads the socket itself (the reactor).
func (s *stream) feed(p []byte, emit func(id, data []byte)) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if s.line = append(s.line, p...); len(s.line) > maxLine {
				return fmt.Errorf("hub sent a line longer than %d bytes", maxLine)
			}
			return nil
		}
		line := p[:i]
		p = p[i+1:]
		if len(s.line) > 0 {
			s.line = append(s.line, line...)
			line = s.line
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if s.handleLine(line) {
			emit(s.id, s.data)
		}
		s.line = s.line[:0]
	}
	return nil
}

// readLine returns one line without its LF or CRLF ending.
func (s *stream) readLine() ([]byte, error) {
	line, err := s.body.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.line = append(s.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = s.body.ReadSlice('\n')
			s.line = append(s.line, line...)
			if len(s.line) > maxLine {
				return nil, fmt.Errorf("hub sent a line longer than %d bytes", maxLine)
			}
		}
		line = s.line
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// cursor is "": the bench resumes a stream only after an event, as an
// EventSource does.
func (s *stream) cursor() string { return "" }

// close ends the subscription.
func (s *stream) close() error { return s.conn.Close() }

// topicURL builds a topic IRI unique to one run, so that runs never see each
// other's events and a hub's history of earlier runs is never replayed.
func topicURL(scenario, run string) string {
	return "https://herald.bench/" + url.PathEscape(scenario) + "/" + url.PathEscape(run)
}
