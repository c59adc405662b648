package hub

import "github.com/heraldhub/herald/internal/journal"

// Fanout runs the fan-out of one event synchronously, as Run does; tests
// that call it must not run the hub.
func (h *Hub) Fanout(ev *journal.Event) { h.fanout(ev) }

// QueueCap is the capacity of the array behind the subscription's queue.
func (s *Subscription) QueueCap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cap(s.queue)
}

// KeepCap is the largest queue array Drain keeps.
const KeepCap = keepCap

// Templates is the number of distinct selectors in the template index,
// and RadixNodes the nodes of its prefix tree.
func (h *Hub) Templates() (n, nodes int) {
	return h.index.templates.len(), h.index.templates.tree.nodes()
}
