package websocket

import (
	"slices"
	"strconv"

	"github.com/gobwas/ws"
)

// Receive implements [push.Receiver]: it takes the client's frames as
// they come, whole or in pieces, and acts on each message. A violation of
// RFC 6455 or a message over the size limit ends the socket.
func (c *Conn) Receive(data []byte) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.lastRead.Store(c.clock.Now().UnixNano())
	buf := data
	if len(c.partial) > 0 {
		c.partial = append(c.partial, data...)
		buf = c.partial
	}
	for len(buf) > 0 {
		h, size, ok, err := header(buf)
		if err == nil && ok {
			err = c.check(h)
		}
		if err != nil {
			c.flush()
			c.end(err)
			return err
		}
		if !ok || int64(len(buf)-size) < h.Length {
			break
		}
		payload := buf[size : size+int(h.Length)]
		buf = buf[size+int(h.Length):]
		ws.Cipher(payload, h.Mask, 0)
		if err := c.frame(h, payload); err != nil {
			c.flush()
			c.end(err)
			return err
		}
	}
	// The read's publishes, stored together, are answered now.
	if err := c.flush(); err != nil {
		c.end(err)
		return err
	}
	// Keep what is left of an incomplete frame, and nothing once whole.
	switch {
	case len(buf) == 0:
		c.partial = nil
	case len(c.partial) > 0:
		c.partial = c.partial[:copy(c.partial, buf)]
	default:
		c.partial = append([]byte(nil), buf...)
	}
	return nil
}

// Pending hands over the bytes the client sent right behind its upgrade
// request, read with it: they are acted on before anything read later,
// by the next Receive (call Receive(nil) once the socket has a writer).
func (c *Conn) Pending(b []byte) {
	c.rmu.Lock()
	c.partial = append(c.partial, b...)
	c.rmu.Unlock()
}

// check refuses a frame header that breaks RFC 6455 or the size limit,
// before its payload is read.
func (c *Conn) check(h ws.Header) error {
	state := ws.StateServerSide
	if c.inFrag {
		state = state.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return &CloseError{Code: CodeProtocolError, Reason: err.Error()}
	}
	if h.OpCode == ws.OpBinary {
		return &CloseError{Code: CodeUnsupportedData, Reason: "binary messages are not spoken: send JSON text"}
	}
	if h.Length+int64(len(c.message)) > int64(c.maxMessage) {
		return &CloseError{Code: CodeTooBig, Reason: "message over the limit of " + strconv.Itoa(c.maxMessage) + " bytes"}
	}
	return nil
}

// frame acts on one whole frame.
func (c *Conn) frame(h ws.Header, payload []byte) error {
	switch h.OpCode {
	case ws.OpPing:
		return c.owe(compile(ws.OpPong, true, slices.Clone(payload)))
	case ws.OpPong:
		return nil
	case ws.OpClose:
		// Echo a valid code (RFC 6455, 5.5.1); refuse an invalid one.
		if len(payload) == 0 {
			return &CloseError{Code: CodeNormal, Reason: "closed by the client"}
		}
		code, reason := ws.ParseCloseFrameData(payload)
		// gobwas checks the ranges below 5000; nothing above is defined.
		if err := ws.CheckCloseFrameData(code, reason); err != nil || len(payload) == 1 || code >= 5000 {
			return &CloseError{Code: CodeProtocolError, Reason: "invalid close frame"}
		}
		return &CloseError{Code: code, Reason: "closed by the client"}
	case ws.OpText:
		if h.Fin {
			return c.message1(payload)
		}
		c.message, c.inFrag = append(c.message[:0], payload...), true
		return nil
	default: // continuation; CheckHeader saw a message to continue
		c.message = append(c.message, payload...)
		if !h.Fin {
			return nil
		}
		msg := c.message
		c.message, c.inFrag = nil, false
		return c.message1(msg)
	}
}
