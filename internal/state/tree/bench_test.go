package tree

import (
	"io"
	"testing"
)

// BenchmarkSetLeafUnderWideObject writes one leaf below an object of 10,000
// children, as a store does when one child of a large list changes: a
// path copy, O(log n) of the object, not a copy of it.
func BenchmarkSetLeafUnderWideObject(b *testing.B) {
	var root *Node
	for i := range 10_000 {
		root = root.Set(Path{"rooms", "lobby", "members", key(i)}, Number(float64(i)))
	}
	paths := make([]Path, 10_000)
	for i := range paths {
		paths[i] = Path{"rooms", "lobby", "members", key(i * 7919 % 10_000)}
	}
	// Two values taken in turns, so that every write changes something
	// (writing the value already there returns the same root).
	values := []*Node{String("online"), String("away")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		root = root.Set(paths[i%len(paths)], values[i/len(paths)%2])
		i++
	}
}

// BenchmarkAppendJSON100kNodes renders a tree of 100,000 nodes, as a GET of
// a large location does.
func BenchmarkAppendJSON100kNodes(b *testing.B) {
	n := bigTree(100_000)
	buf := n.AppendJSON(nil, Format{})
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = n.AppendJSON(buf[:0], Format{})
	}
	b.ReportMetric(float64(n.Count())*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

// BenchmarkWriteJSON100kNodes is the same rendering streamed in chunks,
// the way a handler answers.
func BenchmarkWriteJSON100kNodes(b *testing.B) {
	n := bigTree(100_000)
	b.SetBytes(int64(len(n.AppendJSON(nil, Format{}))))
	b.ReportAllocs()
	for b.Loop() {
		_ = n.WriteJSON(io.Discard, Format{})
	}
	b.ReportMetric(float64(n.Count())*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

// BenchmarkParse reads a PUT body of about 1 MiB (about 30,000 nodes).
func BenchmarkParse(b *testing.B) {
	data := bigTree(30_000).AppendJSON(nil, Format{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n *Node
	for b.Loop() {
		var err error
		if n, err = Parse(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n.Count())*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}
