package presence

// SetPartLimit makes the node send answers and changes in parts of limit
// bytes, so that a test sends many parts without many subscriptions.
// Call it before Serve.
func (n *Node) SetPartLimit(limit int) { n.partLimit = limit }

// DropChange drops a change, as Announce does when too many wait.
func (n *Node) DropChange() { n.dropChange() }

// Peers returns how many other nodes the node hears.
func (n *Node) Peers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.peers)
}

// Settled reports whether the node has the subscriptions of every node
// it hears: no list of one is due or under way.
func (n *Node) Settled() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.stale || p.resync != nil {
			return false
		}
	}
	return true
}
