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
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// wsProtocol is the subprotocol of Herald's WebSocket (docs/protocol.md).
const wsProtocol = "herald.v1"

// wsReadBuffer is each socket's read buffer: an event of the bench's
// default size is some 300 bytes, two frames.
const wsReadBuffer = 2048

// wsConn is one WebSocket to the hub, client side: gobwas/ws makes the
// handshake and the frame headers, and this type reads whole messages
// (reassembling fragments, answering pings) and writes masked text frames.
// Like stream, it holds no goroutine and one small buffer of its own.
type wsConn struct {
	conn net.Conn
	r    *bufio.Reader
	rhdr [ws.MaxHeaderSize - 2]byte // ws.ReadHeaderBuffer's
	msg  []byte                     // the message being read

	wmu  sync.Mutex // a publisher's writer and its reader (answering pings) share the socket
	whdr [ws.MaxHeaderSize]byte
	out  []byte
}

// wsCloseError is a socket the hub closed, with its close code and reason.
type wsCloseError struct {
	code   ws.StatusCode
	reason string
}

func (e *wsCloseError) Error() string {
	return fmt.Sprintf("hub closed the socket: %d %s", e.code, e.reason)
}

// dialWS opens a WebSocket to the hub URL offering herald.v1, with token
// (if any) as a Bearer token. ctx bounds the connect and the handshake.
func (t *target) dialWS(ctx context.Context, token string) (*wsConn, error) {
	u := *t.hub
	u.Scheme = "ws"
	if t.hub.Scheme == "https" {
		u.Scheme = "wss"
	}
	h := http.Header{"User-Agent": {"herald-bench"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	var refusal string
	d := ws.Dialer{
		ReadBufferSize: wsReadBuffer,
		Protocols:      []string{wsProtocol},
		Header:         ws.HandshakeHeaderHTTP(h),
		// The hub's resolved address and the rotating source addresses,
		// as for every other connection of the bench.
		NetDial:   func(ctx context.Context, _, _ string) (net.Conn, error) { return t.dialTCP(ctx) },
		TLSConfig: t.tls,
		OnStatusError: func(_ int, _ []byte, resp io.Reader) {
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 256))
				refusal = string(bytes.TrimSpace(b))
			}
		},
	}
	conn, br, hs, err := d.Dial(ctx, u.String())
	if err != nil {
		if refusal != "" {
			err = fmt.Errorf("%w: %s", err, refusal)
		}
		return nil, fmt.Errorf("websocket: %w", err)
	}
	if hs.Protocol != wsProtocol {
		conn.Close()
		return nil, fmt.Errorf("websocket: hub chose subprotocol %q, not %s", hs.Protocol, wsProtocol)
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, wsReadBuffer)
	}
	return &wsConn{conn: conn, r: br}, nil
}

// readMessage returns the next text message, reassembled from its frames;
// it aliases a buffer that the following call overwrites. Pings are
// answered on the way.
func (c *wsConn) readMessage() ([]byte, error) {
	c.msg = c.msg[:0]
	for {
		h, err := ws.ReadHeaderBuffer(c.r, c.rhdr[:])
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = errStreamEnded
			}
			return nil, err
		}
		if h.Masked || h.Length > maxLine || int64(len(c.msg))+h.Length > maxLine {
			return nil, fmt.Errorf("websocket: hub sent a masked frame or a message over %d bytes", maxLine)
		}
		if h.OpCode.IsControl() {
			if err := c.control(h); err != nil {
				return nil, err
			}
			continue
		}
		start := len(c.msg)
		c.msg = append(c.msg, make([]byte, h.Length)...)
		if _, err := io.ReadFull(c.r, c.msg[start:]); err != nil {
			return nil, err
		}
		if h.OpCode == ws.OpBinary {
			return nil, errors.New("websocket: hub sent a binary message")
		}
		if h.Fin {
			return c.msg, nil
		}
	}
}

// control handles a control frame: a ping is answered, a close ends the
// socket.
func (c *wsConn) control(h ws.Header) error {
	var payload [125]byte // a control frame's payload is at most 125 bytes
	if h.Length > int64(len(payload)) {
		return errors.New("websocket: hub sent a control frame over 125 bytes")
	}
	p := payload[:h.Length]
	if _, err := io.ReadFull(c.r, p); err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		return c.write(ws.OpPong, p)
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		return &wsCloseError{code: code, reason: reason}
	}
	return nil
}

// writeText sends one text message.
func (c *wsConn) writeText(payload []byte) error { return c.write(ws.OpText, payload) }

// writeFrames sends frames made with appendFrame.
func (c *wsConn) writeFrames(frames []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(frames)
	return err
}

// write sends one masked frame, as a client must.
func (c *wsConn) write(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.out = appendFrame(c.out[:0], c.whdr[:], op, payload)
	_, err := c.conn.Write(c.out)
	return err
}

// appendFrame appends a masked frame of payload to dst; hdr is scratch
// space for its header.
func appendFrame(dst, hdr []byte, op ws.OpCode, payload []byte) []byte {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(payload))}
	w := appendWriter{b: dst}
	// Writing to an appendWriter does not fail; hdr is large enough.
	_ = ws.WriteHeaderBuffer(&w, h, hdr)
	start := len(w.b)
	w.b = append(w.b, payload...)
	ws.Cipher(w.b[start:], h.Mask, 0)
	return w.b
}

// appendWriter is an io.Writer that appends to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// close ends the socket.
func (c *wsConn) close() error { return c.conn.Close() }

// wsStream is one subscription on a WebSocket of its own: the WebSocket
// counterpart of stream.
type wsStream struct {
	c     *wsConn
	start string // the cursor the hub's subscribed reply gave
	id    []byte
	data  []byte
}

// wsSub is the name of a wsStream's one subscription.
const wsSub = "s"

// subscribeWS opens a socket, subscribes and returns once the hub has
// answered subscribed: that is when the subscriber counts as connected.
func (t *target) subscribeWS(ctx context.Context, req subscribeRequest) (*wsStream, error) {
	c, err := t.dialWS(ctx, req.token)
	if err != nil {
		return nil, err
	}
	// As for a stream, the deadline covers the request and the answer.
	if d, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	start, err := c.subscribe(wsSub, append([]string{req.topic}, req.topics...), req.lastEventID)
	if err != nil {
		c.close()
		return nil, err
	}
	if !stop() {
		c.close()
		return nil, ctx.Err()
	}
	c.conn.SetDeadline(time.Time{})
	return &wsStream{c: c, start: start}, nil
}

// subscribe sends a subscribe message and waits for its answer; it returns
// the cursor the hub answered.
func (c *wsConn) subscribe(sub string, topics []string, lastEventID string) (string, error) {
	var b []byte
	b = append(b, `{"op":"subscribe","sub":`...)
	b = appendQuoted(b, []byte(sub))
	b = append(b, `,"topics":[`...)
	for i, topic := range topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(b, []byte(topic))
	}
	b = append(b, ']')
	if lastEventID != "" {
		b = append(b, `,"lastEventID":`...)
		b = appendQuoted(b, []byte(lastEventID))
	}
	b = append(b, '}')
	if err := c.writeText(b); err != nil {
		return "", err
	}
	msg, err := c.readMessage()
	if err != nil {
		return "", err
	}
	var op, cursor, reason []byte
	m := objectMembers(msg)
	for k, v, ok := m.next(); ok; k, v, ok = m.next() {
		switch string(k) {
		case "op":
			op, _ = appendUnquoted(nil, v)
		case "lastEventID":
			cursor, _ = appendUnquoted(nil, v)
		case "error":
			reason, _ = appendUnquoted(nil, v)
		}
	}
	switch string(op) {
	case "subscribed":
		return string(cursor), nil
	case "error":
		return "", fmt.Errorf("subscribe: hub answered error: %s", reason)
	}
	return "", fmt.Errorf("subscribe: hub answered %.200q, not subscribed", msg)
}

// next returns the next event's ID and data, skipping every other message.
func (s *wsStream) next() (id, data []byte, err error) {
	for {
		msg, err := s.c.readMessage()
		if err != nil {
			return nil, nil, err
		}
		isEvent, ok := false, true
		s.data = s.data[:0]
		m := objectMembers(msg)
		for k, v, more := m.next(); more && ok; k, v, more = m.next() {
			switch string(k) {
			case "op":
				isEvent = string(v) == `"event"`
				if string(v) == `"error"` {
					return nil, nil, fmt.Errorf("websocket: hub sent an error: %.200s", msg)
				}
			case "id":
				s.id, ok = appendUnquoted(s.id[:0], v)
			case "data":
				s.data, ok = appendUnquoted(s.data, v)
			}
		}
		if isEvent && ok && !m.bad {
			return s.id, s.data, nil
		}
		if isEvent {
			return nil, nil, fmt.Errorf("websocket: malformed event %.200q", msg)
		}
	}
}

func (s *wsStream) cursor() string { return s.start }

func (s *wsStream) close() error { return s.c.close() }
