package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/heraldhub/herald/sse"
)

// Subprotocol is the WebSocket subprotocol of Herald's JSON messages
// (docs/protocol.md), which the client offers and requires.
const Subprotocol = "herald.v1"

// message is a herald.v1 message, either way; each op uses some fields.
type message struct {
	Op          string   `json:"op"`
	Sub         string   `json:"sub,omitempty"`
	Ref         string   `json:"ref,omitempty"`
	Topics      []string `json:"topics,omitempty"`
	LastEventID string   `json:"lastEventID,omitempty"`
	Earliest    bool     `json:"earliest,omitempty"`
	ID          string   `json:"id,omitempty"`
	Type        string   `json:"type,omitempty"`
	Data        string   `json:"data,omitempty"`
	Private     bool     `json:"private,omitempty"`
	Retry       int64    `json:"retry,omitempty"`
	Code        int      `json:"code,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// replyError returns the error for an error message: a [*StatusError] with
// the HTTP status the same request gets over HTTP.
func replyError(m *message) *StatusError {
	return &StatusError{StatusCode: m.Code, Message: m.Error}
}

// closeTimeout bounds the write of the close frame that ends a socket: a
// peer that does not read gets its connection closed without one.
const closeTimeout = time.Second

// wsConn is the client end of a herald.v1 WebSocket. One goroutine reads;
// any may write.
type wsConn struct {
	nc net.Conn
	rd *wsutil.Reader
	// ctl answers the server's control frames (pong for ping, the echo of
	// a close) through the locked Write.
	ctl wsutil.FrameHandlerFunc

	wmu   sync.Mutex
	wbuf  bytes.Buffer // the frame being written, so that it takes one Write
	close func()       // sends a normal closure and closes nc, once
}

// dialWebSocket opens a herald.v1 WebSocket to rawURL (http, https, ws or
// wss), sending header with the handshake. counted, if not nil, is called
// with the number of every batch of bytes received. A refusal before the
// upgrade is a [*StatusError], as over HTTP.
func dialWebSocket(ctx context.Context, rawURL string, header http.Header, tlsConfig *tls.Config, maxMessage int64, counted func(int)) (*wsConn, error) {
	u, err := webSocketURL(rawURL)
	if err != nil {
		return nil, err
	}
	var refusal *StatusError
	d := ws.Dialer{
		Protocols: []string{Subprotocol},
		Header:    ws.HandshakeHeaderHTTP(header),
		TLSConfig: tlsConfig,
		OnStatusError: func(status int, _ []byte, r io.Reader) {
			refusal = &StatusError{StatusCode: status}
			if resp, err := http.ReadResponse(bufio.NewReader(r), nil); err == nil {
				refusal = newStatusError(resp, resp.Body)
			}
		},
	}
	nc, br, hs, err := d.Dial(ctx, u.String())
	switch {
	case refusal != nil:
		return nil, refusal
	case err != nil:
		return nil, fmt.Errorf("client: websocket: %w", err)
	case hs.Protocol != Subprotocol:
		nc.Close()
		return nil, fmt.Errorf("client: websocket: the hub did not accept the %s subprotocol", Subprotocol)
	}
	// Frames the server sent with its handshake wait in br.
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	if counted != nil {
		r = readCounter{r, counted}
	}
	c := &wsConn{nc: nc}
	c.rd = &wsutil.Reader{
		Source:         r,
		State:          ws.StateClientSide,
		CheckUTF8:      true,
		MaxMessageSize: maxMessage,
	}
	c.ctl = wsutil.ControlFrameHandler(c, ws.StateClientSide)
	// The reader answers a control frame that comes between the fragments
	// of a message too.
	c.rd.OnIntermediate = c.ctl
	c.close = sync.OnceFunc(func() {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
		c.wbuf.Reset()
		if wsutil.WriteClientMessage(&c.wbuf, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")) == nil {
			c.nc.Write(c.wbuf.Bytes())
		}
		c.nc.Close()
	})
	return c, nil
}

// webSocketURL returns the ws or wss URL for an http, https, ws or wss one.
func webSocketURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("client: websocket: unsupported URL scheme %q", u.Scheme)
	}
	return u, nil
}

// Write writes p, a whole frame, on the socket. The control frame handler
// writes through it.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.nc.Write(p)
}

// writeText sends p as one text message, which the deadline, if not zero,
// bounds.
func (c *wsConn) writeText(p []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf.Reset()
	if err := wsutil.WriteClientText(&c.wbuf, p); err != nil {
		return err
	}
	c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(c.wbuf.Bytes())
	return err
}

// readMessage returns the next message.
func (c *wsConn) readMessage() (*message, error) {
	p, err := c.readText()
	if err != nil {
		return nil, err
	}
	m := new(message)
	if err := json.Unmarshal(p, m); err != nil {
		return nil, fmt.Errorf("client: websocket: malformed message from the hub: %w", err)
	}
	return m, nil
}

// readText returns the next text message, whole even when the server sent
// it in fragments, answering control frames on the way. A close from the
// server is a [*CloseError]. A binary message, which herald.v1 does not
// use, is skipped.
func (c *wsConn) readText() ([]byte, error) {
	for {
		hdr, err := c.rd.NextFrame()
		if err != nil {
			return nil, closeError(err)
		}
		if hdr.OpCode.IsControl() {
			if err := c.ctl(hdr, c.rd); err != nil {
				return nil, closeError(err)
			}
			continue
		}
		if hdr.OpCode != ws.OpText {
			if err := c.rd.Discard(); err != nil {
				return nil, closeError(err)
			}
			continue
		}
		// The reader reads on through the continuation frames, and ends at
		// the end of the message.
		p, err := io.ReadAll(c.rd)
		if err != nil {
			return nil, closeError(err)
		}
		return p, nil
	}
}

// closeError returns a *CloseError for the close frame the server sent, or
// err. A message over the size limit is reported as sse.ErrEventTooLarge.
func closeError(err error) error {
	var closed wsutil.ClosedError
	switch {
	case errors.As(err, &closed):
		return &CloseError{Code: int(closed.Code), Reason: closed.Reason}
	case errors.Is(err, wsutil.ErrMessageTooLarge):
		return fmt.Errorf("client: websocket message over the size limit: %w", sse.ErrEventTooLarge)
	}
	return err
}

// tlsConfig returns the TLS configuration of the stream's HTTP client, for
// its WebSockets.
func (st *Stream) tlsConfig() *tls.Config {
	if t, ok := st.client.Transport.(*http.Transport); ok {
		return t.TLSClientConfig
	}
	return nil
}
