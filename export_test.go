package herald

import "github.com/heraldhub/herald/internal/journal/jetstream"

// CutNATS closes the connection of a hub on NATS, as the death of its
// process would for the other nodes: they hear no goodbye.
func (h *Hub) CutNATS() { h.journal.(*jetstream.Journal).Conn().Close() }
