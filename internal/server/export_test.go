package server

// SSEFrame is the frame of an event that SSE subscribers receive.
var SSEFrame = sseFrame
