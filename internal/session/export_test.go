package session

import "fmt"

// Check reports the first session out of its place in the heap.
func (d *Deadlines) Check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, s := range d.heap {
		if int(s.slot) != i {
			return fmt.Errorf("session at %d says it is at %d", i, s.slot)
		}
		if i > 0 && d.heap[(i-1)/2].due > s.due {
			return fmt.Errorf("session at %d is due before its parent", i)
		}
	}
	return nil
}

// Len is the number of sessions waiting for their deadlines.
func (d *Deadlines) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.heap)
}
