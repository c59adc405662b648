package hub

import (
	"iter"

	"github.com/heraldhub/herald/internal/journal"
)

// announcementKey marks the dedupe keys of announcements, apart from the
// journal's positions, which never reach it.
const announcementKey = 1 << 63

// maxAnnouncements bounds the batches of announcements waiting for the
// fan-out; past it, new ones are dropped (and counted).
const maxAnnouncements = 1024

// Announce delivers events live to the matching subscribers of this node,
// without the journal: they get no ID and no position, are never
// replayed, and reach no other node. It is for what the hub says of
// itself, such as Mercure's subscription events, which must cost no disk
// write and never grow the history.
//
// Announce never blocks. The fan-out takes announcements only when no
// journal event is waiting, so they never delay ordinary events; when too
// many batches wait, the new one is dropped, counted in
// [Stats.AnnouncementsDropped], and Announce reports false. The events
// must be valid (see [Hub.Validate]) and have no ID.
func (h *Hub) Announce(events ...*journal.Event) bool {
	select {
	case h.announcements <- events:
		return true
	default:
		h.stats.announcementsDropped.Add(uint64(len(events)))
		return false
	}
}

// events yields what the fan-out delivers: every event of the journal's
// feed, in order, until it closes, and announcements while the feed has
// nothing waiting, which it delivers itself.
func (h *Hub) events(feed <-chan *journal.Event) iter.Seq[*journal.Event] {
	return func(yield func(*journal.Event) bool) {
		for {
			// The feed first: an announcement waits for a quiet moment.
			select {
			case ev, ok := <-feed:
				if !ok || !yield(ev) {
					return
				}
				continue
			default:
			}
			select {
			case ev, ok := <-feed:
				if !ok || !yield(ev) {
					return
				}
			case batch := <-h.announcements:
				h.announce(batch)
			}
		}
	}
}

// announce fans a batch of announcements out.
func (h *Hub) announce(batch []*journal.Event) {
	for _, ev := range batch {
		if deliverable(ev) != nil || ev.ID != "" {
			h.stats.announcementsDropped.Add(1)
			continue
		}
		h.announced++
		msg := newMessage(ev)
		msg.key = announcementKey | h.announced
		h.deliver(msg)
		h.stats.announcedOut.Add(1)
	}
}
