// Package wire holds what the JSON transports (long polling, WebSocket)
// share: an event as a JSON object.
package wire

import (
	"encoding/json"

	"github.com/heraldhub/herald/internal/journal"
)

// Event is an event as the JSON transports send it.
type Event struct {
	ID     string   `json:"id,omitempty"`
	Type   string   `json:"type,omitempty"`
	Topics []string `json:"topics"`
	Data   string   `json:"data"`
	Retry  int64    `json:"retry,omitempty"` // milliseconds
}

// MarshalEvent encodes ev as a JSON object: id, type and retry when set,
// topics, and data as a string.
func MarshalEvent(ev *journal.Event) []byte {
	// Marshal cannot fail on strings and an integer; the hub hands out
	// only valid UTF-8 (journal.Event.Validate).
	b, _ := json.Marshal(Event{
		ID: ev.ID, Type: ev.Type, Topics: ev.Topics, Data: string(ev.Data), Retry: ev.Retry.Milliseconds(),
	})
	return b
}
