package sse_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/heraldhub/herald/sse"
)

// benchPayload is a typical JSON update, about 150 bytes.
var benchPayload = []byte(`{"id":"urn:uuid:5f3c2e1a-8b9d-4c6e-a1f2-3b4c5d6e7f80","status":"shipped","items":[{"sku":"A-1001","qty":2},{"sku":"B-2002","qty":1}],"total":42.5}`)

// benchStream returns n events as a hub would send them: a generated ID, a
// type, one or (every fourth event) three data lines, and a heartbeat
// comment every tenth event.
func benchStream(n int) []byte {
	var stream []byte
	for i := range n {
		data := benchPayload
		if i%4 == 0 {
			data = bytes.Join([][]byte{benchPayload, benchPayload, benchPayload}, []byte("\n"))
		}
		ev := sse.Event{ID: fmt.Sprintf("urn:herald:7f3a9c:%d", i+1), Type: "update", Data: data}
		stream, _ = ev.AppendTo(stream)
		if i%10 == 9 {
			stream = sse.AppendComment(stream, "keep-alive")
		}
	}
	return stream
}

func BenchmarkDecode(b *testing.B) {
	const events = 1000
	stream := benchStream(events)
	r := bytes.NewReader(stream)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(stream)
		d := sse.NewDecoder(r)
		n := 0
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != events {
			b.Fatalf("decoded %d events, want %d", n, events)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

func BenchmarkEncode(b *testing.B) {
	ev := sse.Event{ID: "urn:herald:7f3a9c:123456", Type: "update", Data: benchPayload, Retry: 3 * time.Second}
	dst, _ := ev.AppendTo(nil)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = ev.AppendTo(dst[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}

func BenchmarkEncodeMultiline(b *testing.B) {
	data := bytes.Repeat(append(benchPayload, '\n'), 8)
	ev := sse.Event{ID: "urn:herald:7f3a9c:123456", Type: "update", Data: data}
	dst, _ := ev.AppendTo(nil)
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = ev.AppendTo(dst[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}
