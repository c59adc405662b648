package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// ErrConnectionLost reports a publish whose socket closed before the hub
// acknowledged it: the hub may or may not have stored the update. An
// update with an ID can be published again safely, since the hub refuses
// a duplicate ID with 409 Conflict.
var ErrConnectionLost = errors.New("client: websocket lost before the acknowledgement")

// WebSocketPublisher publishes updates over one WebSocket to a Herald hub
// (herald.v1, [Subprotocol]). Its zero value, with URL set, is ready to
// use; it is safe for concurrent use, and publishes from many goroutines
// are pipelined: each is written as soon as it is made, without waiting
// for the acknowledgements of those before it, and the hub acknowledges
// them in order. The socket is opened by the first Publish, and again by
// the first one after it closed.
type WebSocketPublisher struct {
	// URL is the hub URL (http, https, ws or wss).
	URL string
	// Token, if not empty, is sent as "Authorization: Bearer <Token>" with
	// the handshake: a JWT whose claims allow publishing to the updates'
	// topics.
	Token string
	// Header holds extra handshake headers, such as Origin or Cookie.
	Header http.Header
	// TLSConfig configures a wss connection; nil means the defaults.
	TLSConfig *tls.Config

	mu   sync.Mutex
	sock *pubSocket // nil until the first Publish, and after it closed
}

// pubSocket is one socket of a WebSocketPublisher.
type pubSocket struct {
	ws   *wsConn
	done chan struct{} // closed when the socket has closed

	mu      sync.Mutex
	pending map[string]chan ack // by ref
	nextRef uint64
	err     error // why the socket closed
}

// ack is the hub's answer to one publish.
type ack struct {
	id  string
	err error
}

// Publish sends u to the hub and returns the ID of the event it became. A
// refusal is a [*StatusError] with the code and explanation of the hub's
// error message (the HTTP status the same publish gets over HTTP: 403 for
// a topic the token may not publish to, 409 for a duplicate ID…); the
// socket stays open. A lost socket is [ErrConnectionLost].
func (p *WebSocketPublisher) Publish(ctx context.Context, u Update) (id string, err error) {
	if len(u.Topics) == 0 {
		return "", ErrNoTopic
	}
	sock, err := p.socket(ctx)
	if err != nil {
		return "", err
	}
	ref, answer := sock.expect()
	msg, err := json.Marshal(message{
		Op: "publish", Ref: ref, Topics: u.Topics, Data: string(u.Data),
		ID: u.ID, Type: u.Type, Private: u.Private, Retry: retryMillis(u.Retry),
	})
	if err != nil {
		sock.forget(ref)
		return "", fmt.Errorf("client: %w", err)
	}
	deadline, _ := ctx.Deadline()
	if err := sock.ws.writeText(msg, deadline); err != nil {
		sock.forget(ref)
		// What was written of a frame cannot be taken back: the socket is
		// of no further use.
		sock.ws.close()
		return "", fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	select {
	case a := <-answer:
		return a.id, a.err
	case <-ctx.Done():
		sock.forget(ref)
		return "", ctx.Err()
	}
}

// Close closes the socket, if one is open, and waits until it has closed.
// Publishes waiting for their acknowledgement fail with
// [ErrConnectionLost]; a later Publish opens a new socket.
func (p *WebSocketPublisher) Close() error {
	p.mu.Lock()
	sock := p.sock
	p.sock = nil
	p.mu.Unlock()
	if sock != nil {
		sock.ws.close()
		<-sock.done
	}
	return nil
}

// socket returns the open socket, opening one if there is none.
func (p *WebSocketPublisher) socket(ctx context.Context) (*pubSocket, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sock != nil {
		select {
		case <-p.sock.done:
		default:
			return p.sock, nil
		}
	}
	h := p.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if p.Token != "" {
		h.Set("Authorization", "Bearer "+p.Token)
	}
	wc, err := dialWebSocket(ctx, p.URL, h, p.TLSConfig, 0, nil)
	if err != nil {
		return nil, err
	}
	p.sock = &pubSocket{ws: wc, done: make(chan struct{}), pending: make(map[string]chan ack)}
	go p.sock.readAcks()
	return p.sock, nil
}

// expect registers a publish and returns its ref and where its answer
// will come.
func (s *pubSocket) expect() (ref string, answer <-chan ack) {
	ch := make(chan ack, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextRef++
	ref = strconv.FormatUint(s.nextRef, 10)
	if s.err != nil {
		ch <- ack{err: s.err}
		return ref, ch
	}
	s.pending[ref] = ch
	return ref, ch
}

// forget drops a publish whose answer nobody waits for any more.
func (s *pubSocket) forget(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, ref)
}

// answer gives a publish its answer.
func (s *pubSocket) answer(ref string, a ack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.pending[ref]; ok {
		delete(s.pending, ref)
		ch <- a
	}
}

// readAcks reads the hub's answers until the socket closes, then fails the
// publishes still waiting.
func (s *pubSocket) readAcks() {
	defer close(s.done)
	var err error
	for {
		var m *message
		m, err = s.ws.readMessage()
		if err != nil {
			break
		}
		switch m.Op {
		case "ack":
			s.answer(m.Ref, ack{id: m.ID})
		case "error":
			s.answer(m.Ref, ack{err: replyError(m)})
		}
	}
	s.ws.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	for ref, ch := range s.pending {
		delete(s.pending, ref)
		ch <- ack{err: s.err}
	}
}
