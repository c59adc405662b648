package presence

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are what a node counts, for its metrics.
type counters struct {
	dropped    atomic.Uint64 // changes of this node not sent
	gaps       atomic.Uint64 // holes found in another node's sequence
	resyncs    atomic.Uint64 // lists of one node's subscriptions to make up for missed changes
	lost       atomic.Uint64 // nodes found dead
	incomplete atomic.Uint64 // lists without a node that did not answer in time
	refused    atomic.Uint64 // list requests of others dropped: too many waited
}

var (
	descNodes      = prometheus.NewDesc("herald_cluster_nodes", "Nodes of the cluster this node hears (itself included), for the subscriptions API and subscription events.", nil, nil)
	descDropped    = prometheus.NewDesc("herald_cluster_changes_dropped_total", "Subscription changes of this node that never reached the other nodes (too many waiting, or NATS refused them); the other nodes list this node again.", nil, nil)
	descGaps       = prometheus.NewDesc("herald_cluster_changes_missed_total", "Times this node found it had missed subscription changes of another node, and listed that node again.", nil, nil)
	descResyncs    = prometheus.NewDesc("herald_cluster_resyncs_total", "Lists of one node's subscriptions asked to make up for changes missed or never seen.", nil, nil)
	descLost       = prometheus.NewDesc("herald_cluster_nodes_lost_total", "Nodes found dead (unheard for three heartbeats) and their subscribers announced gone.", nil, nil)
	descIncomplete = prometheus.NewDesc("herald_cluster_lists_incomplete_total", "Subscription lists answered without a node that did not answer in time.", nil, nil)
	descRefused    = prometheus.NewDesc("herald_cluster_list_requests_dropped_total", "List requests of other nodes dropped because too many waited for an answer.", nil, nil)
)

// Describe implements [prometheus.Collector].
func (n *Node) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descDropped, descGaps, descResyncs, descLost, descIncomplete, descRefused} {
		ch <- d
	}
}

// Collect implements [prometheus.Collector].
func (n *Node) Collect(ch chan<- prometheus.Metric) {
	n.mu.Lock()
	nodes := len(n.peers) + 1
	n.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(nodes))
	for _, c := range []struct {
		d *prometheus.Desc
		v *atomic.Uint64
	}{
		{descDropped, &n.stats.dropped}, {descGaps, &n.stats.gaps}, {descResyncs, &n.stats.resyncs},
		{descLost, &n.stats.lost}, {descIncomplete, &n.stats.incomplete}, {descRefused, &n.stats.refused},
	} {
		ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, float64(c.v.Load()))
	}
}
