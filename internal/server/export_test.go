package server

import "github.com/heraldhub/herald/internal/transport/websocket"

// SSEFrame is the frame of an event that SSE subscribers receive.
var SSEFrame = sseFrame

// Socket makes a WebSocket of the server as an upgrade would, with the
// credentials of token (none when empty), without a connection: a test
// hands it bytes with Receive and reads its frames.
func (s *Server) Socket(token string) (*websocket.Conn, error) {
	var cred websocket.Credentials
	if token != "" {
		var err error
		if cred, err = s.credentials(token); err != nil {
			return nil, err
		}
	}
	if herr := s.takeConnection(); herr != nil {
		return nil, herr
	}
	return websocket.New(websocket.Config{
		Host: &socketHost{srv: s, address: "192.0.2.1"}, Credentials: cred,
		MaxMessage: int(s.cfg.MaxBodyBytes), MaxSubscriptions: maxSocketSubscriptions,
		ReplyTimeout: s.cfg.WriteTimeout, Clock: s.cfg.Clock,
	}), nil
}
