package tree

import (
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	root := mustParse(t, `{"counts":{"n":5,"s":"x","f":1.5},"other":1}`)
	tests := []struct {
		name  string
		value string
		at    Path
		want  string // or "!error"
	}{
		{"timestamp", `{".sv":"timestamp"}`, Path{"t"}, `1700000000123`},
		{"increment a number", `{".sv":{"increment":2}}`, Path{"counts", "n"}, `7`},
		{"increment a float", `{".sv":{"increment":-0.5}}`, Path{"counts", "f"}, `1`},
		{"increment a string", `{".sv":{"increment":2}}`, Path{"counts", "s"}, `2`},
		{"increment an object", `{".sv":{"increment":2}}`, Path{"counts"}, `2`},
		{"increment nothing", `{".sv":{"increment":2}}`, Path{"none"}, `2`},
		{"nested", `{"a":{".sv":"timestamp"},"n":{".sv":{"increment":1}},"k":[{".sv":"timestamp"}],"plain":true}`, Path{"counts"},
			`{"a":1700000000123,"k":[1700000000123],"n":6,"plain":true}`},
		{"none", `{"a":1}`, Path{"x"}, `{"a":1}`},
		{"unknown name", `{".sv":"now"}`, Path{"x"}, `!unsupported server value`},
		{"unknown op", `{".sv":{"decrement":1}}`, Path{"x"}, `!unsupported server value`},
		{"increment of a string", `{".sv":{"increment":"1"}}`, Path{"x"}, `!unsupported server value`},
		{"increment with more", `{".sv":{"increment":1,"by":2}}`, Path{"x"}, `!unsupported server value`},
		{"null", `{".sv":null}`, Path{"x"}, `!unsupported server value`},
		{"overflow", `{".sv":{"increment":1.7976931348623157e308}}`, Path{"big"}, `!out of range`},
	}
	root = root.Set(Path{"big"}, Number(1.7976931348623157e308))
	for _, tt := range tests {
		v := mustParse(t, tt.value)
		got, err := Resolve(v, tt.at, root, now)
		if tt.want[0] == '!' {
			wantError(t, tt.name, err, tt.want[1:])
			continue
		}
		if err != nil || js(got) != tt.want {
			t.Errorf("%s: Resolve = %s, %v; want %s", tt.name, js(got), err, tt.want)
			continue
		}
		if got.HasServerValues() {
			t.Errorf("%s: resolved value still has server values", tt.name)
		}
		checkTotals(t, tt.name, got)
	}
}

func TestResolveSharesWhatHasNoServerValue(t *testing.T) {
	v := mustParse(t, `{"big":{"a":1,"b":2},"t":{".sv":"timestamp"}}`)
	if !v.HasServerValues() || v.Child("big").HasServerValues() {
		t.Fatal("HasServerValues is wrong")
	}
	got, err := Resolve(v, nil, nil, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.Child("big") != v.Child("big") {
		t.Error("a subtree without server values was copied")
	}
	plain := mustParse(t, `{"a":1}`)
	if got, _ := Resolve(plain, nil, nil, time.Now()); got != plain {
		t.Error("a value without server values was copied")
	}
	at := make(Path, 1, 4)
	at[0] = "x"
	spare := at[:2]
	spare[1] = "keep"
	if _, err := Resolve(mustParse(t, `{"y":{".sv":"timestamp"}}`), at, nil, time.Now()); err != nil || spare[1] != "keep" {
		t.Errorf("Resolve wrote into the caller's path array: %q, %v", spare, err)
	}
}
