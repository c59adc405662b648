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
	"strconv"
	"strings"
	"time"
)

// The state tree scenarios (db-*) speak the Firebase Realtime Database's
// REST API to Herald's tree: PUT and PATCH of /db/{path}.json to write,
// GET to read, and GET with Accept: text/event-stream to stream a path.
// Writers (and the publish scenario's publishers) use a rawClient each:
// one keep-alive connection, one request at a time, written and read by
// the calling goroutine, without net/http's two goroutines per connection
// and the hand-offs between them: at 20,000-40,000 requests a second on
// the hub's two cores the generator's share matters (net/http's client
// cost 33 µs of CPU per publish, this one 16).

// dbError is a state tree request the hub answered with something other
// than 200.
type dbError struct {
	status int
	body   string
}

func (e *dbError) Error() string {
	msg := fmt.Sprintf("state tree: hub answered %d %s: %s", e.status, http.StatusText(e.status), e.body)
	if e.status == http.StatusUnauthorized || e.status == http.StatusForbidden {
		msg += " (" + dbRightsHint + ")"
	}
	return msg
}

// dbRightsHint says how to give the bench a token that may read and write
// the whole tree.
const dbRightsHint = "give --token with the hub's --db-admin-token, or --key with its JWT secret"

// rawClient sends requests over one keep-alive HTTP/1.1 connection of its
// own, dialled on first use and again after an error: state tree requests
// (newDBClient), or publishes (newFormClient). It is not safe for
// concurrent use.
type rawClient struct {
	t           *target
	token       string
	timeout     time.Duration
	contentType string
	// refused is the error of an answer other than 200.
	refused func(status int, body string) error
	conn    net.Conn
	br      *bufio.Reader
	req     []byte
	body    []byte
	form    []byte // a publish's form (see publish)
}

func newDBClient(t *target, token string, timeout time.Duration) *rawClient {
	return &rawClient{t: t, token: token, timeout: timeout, contentType: "application/json",
		refused: func(status int, body string) error { return &dbError{status: status, body: body} }}
}

// newFormClient returns a client that publishes forms to the hub, one
// after another (see (*rawClient).publish): the publish scenario's client,
// so that the generator's CPU per publish stays well under the hub's.
func newFormClient(t *target, token string, timeout time.Duration) *rawClient {
	return &rawClient{t: t, token: token, timeout: timeout, contentType: "application/x-www-form-urlencoded",
		refused: func(status int, body string) error { return &publishError{status: status, body: body} }}
}

// do sends one request (path is escaped; a state tree's ends in .json)
// and returns the answer's body, which aliases a buffer of c that the next
// call overwrites. An answer other than 200 is c.refused's error.
func (c *rawClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	if c.conn == nil {
		conn, err := c.t.dial(ctx)
		if err != nil {
			return nil, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	// The deadline bounds a hub that does not answer; ctx's end is
	// applied when it comes, so that an error before it is the hub's.
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	out, status, err := c.roundTrip(method, path, body)
	stop()
	switch {
	case err != nil:
		c.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	case status != http.StatusOK:
		return nil, c.refused(status, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func (c *rawClient) roundTrip(method, path string, body []byte) ([]byte, int, error) {
	b := c.req[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.t.hub.Host...)
	b = append(b, "\r\nUser-Agent: herald-bench\r\n"...)
	if c.token != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, c.token...)
		b = append(b, "\r\n"...)
	}
	if method != http.MethodGet {
		b = append(b, "Content-Type: "...)
		b = append(b, c.contentType...)
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.req = b
	if _, err := c.conn.Write(b); err != nil {
		return nil, 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, 0, err
	}
	c.body, err = readAllInto(c.body[:0], resp.Body, 1<<20)
	resp.Body.Close()
	if err != nil {
		return nil, 0, err
	}
	if resp.Close {
		c.close()
	}
	return c.body, resp.StatusCode, nil
}

// publish posts one event of data on topic as a Mercure publish form to
// the hub's URL.
func (c *rawClient) publish(ctx context.Context, topic string, data []byte) error {
	c.form = append(c.form[:0], "topic="...)
	c.form = appendQueryEscaped(c.form, topic)
	c.form = append(c.form, "&data="...)
	c.form = appendQueryEscaped(c.form, string(data))
	_, err := c.do(ctx, http.MethodPost, c.t.hub.RequestURI(), c.form)
	return err
}

// appendQueryEscaped appends s escaped as url.QueryEscape does.
func appendQueryEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '-', ch == '_', ch == '.', ch == '~':
			b = append(b, ch)
		case ch == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', "0123456789ABCDEF"[ch>>4], "0123456789ABCDEF"[ch&15])
		}
	}
	return b
}

// readAllInto appends what r holds to dst, up to limit bytes.
func readAllInto(dst []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		if len(dst) > limit {
			return dst, fmt.Errorf("answer longer than %d bytes", limit)
		}
	}
}

// close drops the connection; the next request dials again.
func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// put writes value at the location whose URL path is path.
func (c *rawClient) put(ctx context.Context, path string, value []byte) error {
	_, err := c.do(ctx, http.MethodPut, path, value)
	return err
}

// A state tree scenario writes, as the value of a leaf, a JSON string with
// the figures a Mercure event's payload holds (see payload), padded to
// --size with ",pad=xxxx":
//
//	"step=1,seq=42,sent=1712345678901234567"
//
// A stream receives it inside Firebase's event data, which the bench reads
// for its "data" member only:
//
//	{"path":"/v","data":"step=1,seq=42,sent=1712345678901234567"}
const (
	leafStep = `"step=`
	leafSeq  = `,seq=`
	leafSent = `,sent=`
	leafPad  = `,pad=`
)

// appendLeaf appends the JSON string of p to b, padded to at least size
// bytes.
func appendLeaf(b []byte, p payload, size int) []byte {
	start := len(b)
	b = append(b, leafStep...)
	b = strconv.AppendInt(b, int64(p.step), 10)
	b = append(b, leafSeq...)
	b = strconv.AppendUint(b, p.seq, 10)
	b = append(b, leafSent...)
	b = strconv.AppendInt(b, p.sent, 10)
	if pad := size - (len(b) - start) - len(leafPad) - 1; pad > 0 {
		b = append(b, leafPad...)
		for range pad {
			b = append(b, 'x')
		}
	}
	return append(b, '"')
}

// parseLeaf reads what appendLeaf wrote.
func parseLeaf(b []byte) (p payload, ok bool) {
	return parseMarked(b, leafStep, leafSeq, leafSent, '"')
}

// dbEventParts returns the raw path (a JSON string, quotes included) and
// data members of a put or patch event's data; ok is false for anything
// else (keep-alive's null).
func dbEventParts(data []byte) (path, value []byte, ok bool) {
	m := objectMembers(data)
	for {
		k, v, more := m.next()
		if !more {
			break
		}
		switch string(k) {
		case "path":
			path = v
		case "data":
			value = v
		}
	}
	return path, value, !m.bad && path != nil && value != nil
}

// rootPath is the path of an event that puts the whole watched location.
var rootPath = []byte(`"/"`)

// parseDBEvent reads the bench leaf in a stream event's data. A put of
// the whole location that holds no bench leaf (the stream's first event,
// a snapshot of what is there) counts as a readiness probe (step 0).
func parseDBEvent(data []byte) (payload, bool) {
	path, value, ok := dbEventParts(data)
	if !ok {
		return payload{}, false
	}
	if pl, ok := parseLeaf(value); ok {
		return pl, true
	}
	return payload{}, bytes.Equal(path, rootPath)
}

// dbFeed is a state tree stream: its put and patch events. Keep-alive
// events are skipped; cancel (the rules no longer allow the read) and
// auth_revoked end it, as they end a Firebase client's stream.
type dbFeed struct{ *stream }

// errStreamCancelled reports a state stream the hub ended with cancel or
// auth_revoked.
var errStreamCancelled = errors.New("hub cancelled the stream")

func (f dbFeed) next() (id, data []byte, err error) {
	for {
		id, data, err := f.stream.next()
		if err != nil {
			return nil, nil, err
		}
		switch string(f.event) {
		case "put", "patch":
			return id, data, nil
		case "cancel", "auth_revoked":
			return nil, nil, fmt.Errorf("%w: %s %s", errStreamCancelled, f.event, data)
		}
	}
}

// openDB opens a state tree stream; it returns once the hub has sent its
// response headers.
func (t *target) openDB(ctx context.Context, req subscribeRequest) (feed, error) {
	st, err := t.subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	return dbFeed{st}, nil
}
