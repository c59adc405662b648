package tree

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		escaped string
		want    Path // nil with wantErr
		wantErr string
	}{
		{"", Path{}, ""},
		{"/", Path{}, ""},
		{"//", Path{}, ""},
		{"/users/alice", Path{"users", "alice"}, ""},
		{"users/alice/", Path{"users", "alice"}, ""},
		{"/users//alice", Path{"users", "alice"}, ""},
		{"/users/al%20ice/x", Path{"users", "al ice", "x"}, ""},
		{"/a+b", Path{"a+b"}, ""},
		{"/caf%C3%A9", Path{"café"}, ""},
		{"/-Nx1_a", Path{"-Nx1_a"}, ""},
		{"/a%2Fb", nil, `encoded "/"`},
		{"/a%2fb", nil, `encoded "/"`},
		{"/a/..", nil, `".." segments`},
		{"/./a", nil, `".." segments`},
		{"/a/%2E%2E", nil, `".." segments`},
		{"/a%zz", nil, "percent-encoding"},
		{"/a%2", nil, "percent-encoding"},
		{"/a%00b", nil, "control"},
		{"/a%0Ab", nil, "control"},
		{"/a%7F", nil, "control"},
		{"/a.b", nil, `must not contain "."`},
		{"/a$b", nil, `must not contain`},
		{"/a%23b", nil, `must not contain`},
		{"/a[0]", nil, `must not contain`},
		{"/%FF", nil, "UTF-8"},
		{"/" + strings.Repeat("k", 769), nil, "768 bytes"},
		{"/" + strings.Repeat("k", 768), Path{strings.Repeat("k", 768)}, ""},
		{strings.Repeat("/a", 32), Path(strings.Split(strings.Repeat("a", 32), "")), ""},
		{strings.Repeat("/a", 33), nil, "too deep"},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.escaped)
		if tt.wantErr != "" {
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.wantErr) {
				t.Errorf("ParsePath(%q) = %v, %v; want an *Error containing %q", tt.escaped, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParsePath(%q) = %q, %v; want %q", tt.escaped, got, err, tt.want)
		}
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"Hello World", true},
		{"-Nx1_a~!@%^&*()", true},
		{"日本語", true},
		{"", false},
		{"a.b", false},
		{"$a", false},
		{"#", false},
		{"[", false},
		{"]", false},
		{"a/b", false},
		{"\x00", false},
		{"a\x1f", false},
		{"\x7f", false},
		{"\xff", false},
		{strings.Repeat("é", 384), true}, // 768 bytes
		{strings.Repeat("é", 384) + "a", false},
	}
	for _, tt := range tests {
		if err := ValidKey(tt.key); (err == nil) != tt.ok {
			t.Errorf("ValidKey(%q) = %v, want ok %v", tt.key, err, tt.ok)
		}
	}
}

func TestPathMethods(t *testing.T) {
	p := Path{"a", "b"}
	if got := p.String(); got != "/a/b" {
		t.Errorf("String = %q", got)
	}
	if got := (Path{}).String(); got != "/" {
		t.Errorf("root String = %q", got)
	}
	c := p.Child("c")
	c2 := p.Child("d")
	if !c.Equal(Path{"a", "b", "c"}) || !c2.Equal(Path{"a", "b", "d"}) || !p.Equal(Path{"a", "b"}) {
		t.Errorf("Child aliases: %q %q %q", c, c2, p)
	}
	par := c.Parent()
	_ = append(par, "x")
	if !c.Equal(Path{"a", "b", "c"}) {
		t.Errorf("appending to Parent changed the child: %q", c)
	}
	if !(Path{}).Parent().Equal(Path{}) {
		t.Error("root's parent is not the root")
	}
	for _, tt := range []struct {
		p, q Path
		want bool
	}{
		{Path{"a", "b"}, Path{}, true},
		{Path{"a", "b"}, Path{"a"}, true},
		{Path{"a", "b"}, Path{"a", "b"}, true},
		{Path{"a"}, Path{"a", "b"}, false},
		{Path{"ab"}, Path{"a"}, false},
		{Path{}, Path{}, true},
	} {
		if got := tt.p.HasPrefix(tt.q); got != tt.want {
			t.Errorf("%q.HasPrefix(%q) = %v", tt.p, tt.q, got)
		}
	}
}

func TestCompareKeys(t *testing.T) {
	// In Firebase's order: 32-bit integers by value, then strings by bytes.
	ordered := []string{
		"-2147483648", "-10", "-1", "0", "-0", "00", "1", "01", "001", "2", "9", "10",
		"2147483647",
		"-", "-2147483649", "-a", "0.5", "1a", "2147483648", "A", "Z", "a", "b", "ba", "é",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := CompareKeys(a, b); got != want {
				t.Errorf("CompareKeys(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}
