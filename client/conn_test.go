package client

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestBOMSkipper(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"\xEF", "\xEF"},
		{"\xEF\xBB", "\xEF\xBB"},
		{"\xEF\xBB\xBF", ""},
		{"\xEF\xBB\xBFdata: x\n", "data: x\n"},
		{"\xEF\xBB\xBF\xEF\xBB\xBF", "\xEF\xBB\xBF"},
		{"\xEF\xBBx", "\xEF\xBBx"},
		{"\xEFdata", "\xEFdata"},
		{"data: x\n", "data: x\n"},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":     func(r io.Reader) io.Reader { return r },
		"one byte":  iotest.OneByteReader,
		"data+err":  iotest.DataErrReader,
		"half read": iotest.HalfReader,
	}
	for _, tt := range tests {
		for name, wrap := range readers {
			got, err := io.ReadAll(&bomSkipper{r: wrap(strings.NewReader(tt.in))})
			if err != nil || string(got) != tt.want {
				t.Errorf("%s %q: read %q, %v; want %q", name, tt.in, got, err, tt.want)
			}
		}
	}
	// An error is reported after the bytes held back.
	boom := errors.New("boom")
	r := &bomSkipper{r: io.MultiReader(strings.NewReader("\xEF\xBB"), iotest.ErrReader(boom))}
	got, err := io.ReadAll(r)
	if string(got) != "\xEF\xBB" || err != boom {
		t.Errorf("read %q, %v; want the two bytes, then boom", got, err)
	}
}
