package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/push"
	"github.com/heraldhub/herald/internal/session"

	"github.com/heraldhub/herald/sse"
)

// Push streams: an idle SSE subscriber should cost a few KiB, not the
// ~26 KiB of net/http's goroutine, buffers and background reader per
// stream. So, for plain HTTP/1.1 on Linux, the subscribe handler hijacks
// the connection, writes the response head, the opening block and the
// replay itself, hands the connection to the push pool (internal/push)
// and returns: from then on the stream holds no goroutine and no buffer.
// HTTP/2, TLS and other systems keep the goroutine-per-stream writer.

// canPush reports whether a subscribe request can become a push stream.
func (s *Server) canPush(w http.ResponseWriter, r *http.Request) bool {
	if s.push == nil || r.ProtoMajor != 1 || r.TLS != nil {
		return false
	}
	_, ok := w.(http.Hijacker)
	return ok
}

// streamStart is how a stream begins, whichever writer serves it: the
// session's transport as both writers take it, its instruments, and the
// first bytes to send after the response head (the opening block and the
// replay of SSE; the first put of a state stream), written through write
// after buf.
type streamStart struct {
	sess    *session.Session
	source  meteredSource
	metrics *transportMetrics
	first   func(ctx context.Context, buf []byte, write func([]byte) error) error
}

// meteredSource is a stream's transport: what the writers take, counting
// what they write.
type meteredSource interface {
	push.Source
	push.Meter
}

// startPush turns the request into a push stream: it hijacks the
// connection, writes the head and the stream's first bytes, then hands
// the connection to the push pool, which releases the session when the
// connection closes. The caller has set the response headers.
func (s *Server) startPush(w http.ResponseWriter, r *http.Request, st streamStart) {
	sess := st.sess
	tcp, err := hijack(w)
	if err != nil {
		s.log.Debug("stream ended", "subscriber", sess.Sub, "reason", err)
		sess.Release(err)
		return
	}
	hijackedStatus(w, http.StatusOK)
	st.metrics.opens()
	buf := appendResponseHead(make([]byte, 0, 512), r.Proto, w.Header())
	write := func(b []byte) error {
		if err := s.writeBlocking(tcp, b); err != nil {
			return err
		}
		st.source.Sent(len(b))
		return nil
	}
	if err := st.first(r.Context(), buf, write); err != nil {
		_ = tcp.Close()
		s.log.Debug("stream ended", "subscriber", sess.Sub, "reason", err)
		st.metrics.closes(err)
		sess.Release(err)
		return
	}
	c, err := s.push.Add(tcp, st.source)
	if err != nil {
		return // the pool closed the connection and told the stream
	}
	sess.SetWriter(c)
	// Frames may have queued, or the session ended, before the wake was set.
	c.Wake()
}

// serveStream writes the stream from the handler's goroutine (HTTP/2,
// TLS, or push streams turned off) until it ends, and says why and
// whether it had opened. The caller releases the session.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, st streamStart) (opened bool, err error) {
	if err := s.sessions.Add(st.sess); err != nil {
		writeError(w, unavailable("server shutting down", 1))
		return false, err
	}
	sw := sse.NewWriter(w)
	sw.SetWriteTimeout(s.cfg.WriteTimeout)
	write := func(b []byte) error {
		if err := sw.Write(b); err != nil {
			return err
		}
		st.source.Sent(len(b))
		return nil
	}
	st.metrics.opens()
	if err := st.first(r.Context(), nil, write); err != nil {
		return true, err
	}
	return true, push.Stream(r.Context(), sw, st.source, push.StreamConfig{Heartbeat: s.cfg.Heartbeat, Clock: s.cfg.Clock})
}

// writeBlocking writes b to a hijacked connection within the write timeout.
func (s *Server) writeBlocking(c *net.TCPConn, b []byte) error {
	if err := c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	if _, err := c.Write(b); err != nil {
		return err
	}
	return c.SetWriteDeadline(time.Time{})
}

// hijack takes the connection of a push stream. The body is delimited by
// the connection's end, as HTTP/1.1 allows for a response without length
// or chunking; EventSource clients expect exactly that of a stream.
func hijack(w http.ResponseWriter) (*net.TCPConn, error) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, errors.New("hijacked connection is not TCP")
	}
	return tcp, nil
}

// appendResponseHead writes an HTTP/1.1 200 status line and headers.
func appendResponseHead(dst []byte, proto string, h http.Header) []byte {
	if proto != "HTTP/1.0" {
		proto = "HTTP/1.1"
	}
	dst = append(dst, proto...)
	dst = append(dst, " 200 OK\r\n"...)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				continue // never split the head; net/http drops these too
			}
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	dst = append(dst, "Connection: close\r\nDate: "...)
	dst = append(dst, time.Now().UTC().Format(http.TimeFormat)...)
	dst = append(dst, "\r\n\r\n"...)
	return dst
}
