package bench

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

func TestLeafRoundTrip(t *testing.T) {
	want := payload{step: 3, seq: 42, sent: 1712345678901234567}
	for _, size := range []int{0, 10, 200} {
		b := appendLeaf(nil, want, size)
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("size %d: %s is not a JSON string: %v", size, b, err)
		}
		if len(b) < size {
			t.Errorf("size %d: %d bytes", size, len(b))
		}
		if got, ok := parseLeaf(b); !ok || got != want {
			t.Errorf("size %d: parseLeaf(%s) = %+v, %v", size, b, got, ok)
		}
	}
}

func TestParseDBEvent(t *testing.T) {
	for _, tc := range []struct {
		data string
		ok   bool
		step int
	}{
		{`{"path":"/v","data":"step=1,seq=2,sent=3"}`, true, 1},
		{`{"data":"step=2,seq=2,sent=3,pad=xx","path":"/a/b"}`, true, 2},
		{`{"path":"/","data":"step=1,seq=2,sent=3"}`, true, 1},       // a write at the watched location itself
		{`{"path":"/","data":null}`, true, 0},                        // first put of an empty location
		{`{"path":"/","data":{"v":"step=1,seq=2,sent=3"}}`, true, 0}, // first put of a written one
		{`{"path":"/v","data":5}`, false, 0},
		{`{"path":"/v"}`, false, 0},
		{`null`, false, 0}, // keep-alive's data
		{`{"path":"/v","data":"step=1,seq=2"}`, false, 0},
	} {
		pl, ok := parseDBEvent([]byte(tc.data))
		if ok != tc.ok || pl.step != tc.step {
			t.Errorf("parseDBEvent(%s) = %+v, %v; want step %d, %v", tc.data, pl, ok, tc.step, tc.ok)
		}
	}
}

// A first put longer than the reader's buffer is compared piece by piece.
func TestFirstPut(t *testing.T) {
	value := `{"path":"/","data":{"a":"` + strings.Repeat("x", 100) + `"}}`
	for _, tc := range []struct {
		stream, want string
		match        bool
	}{
		{"id: 7\nevent: put\ndata: " + value + "\n\n", value, true},
		{"event: put\r\ndata: " + value + "\r\n\r\n", value, true},
		{"event: put\ndata: " + value + "\n\n", value[:len(value)-1] + "]", false},
		{"event: put\ndata: " + value + "\n\n", value + "}", false},
		{"event: patch\ndata: " + value + "\n\n", value, false},
		{"event: put\ndata: {}\n\n", "{}", true},
	} {
		got, err := firstPut(bufio.NewReaderSize(strings.NewReader(tc.stream), 16), []byte(tc.want))
		if err != nil || got != tc.match {
			t.Errorf("firstPut(%.40q…) = %v, %v; want %v", tc.stream, got, err, tc.match)
		}
	}
	if _, err := firstPut(bufio.NewReaderSize(strings.NewReader("event: put\ndata: {"), 16), []byte("{}")); err == nil {
		t.Error("a stream that ends inside its first event: no error")
	}
}
