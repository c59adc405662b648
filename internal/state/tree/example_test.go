package tree_test

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/heraldhub/herald/internal/state/tree"
)

func ExampleParsePath() {
	p, err := tree.ParsePath("/users/al%20ice/name")
	fmt.Println(p, len(p), err)
	_, err = tree.ParsePath("/users/a%2Fb")
	fmt.Println(err)
	// Output:
	// /users/al ice/name 3 <nil>
	// Invalid path: segment "a/b" holds an encoded "/"
}

func ExampleNode_Set() {
	v, _ := tree.Parse([]byte(`{"first":"Jack","last":"Sparrow"}`), tree.Limits{})
	v1 := (*tree.Node)(nil).Set(tree.Path{"users", "jack"}, v)
	v2 := v1.Set(tree.Path{"users", "jack", "last"}, tree.String("Jones"))
	v3 := v2.Set(tree.Path{"users", "jack"}, nil) // delete: empty ancestors go too
	fmt.Println(string(v1.AppendJSON(nil, tree.Format{})))
	fmt.Println(string(v2.AppendJSON(nil, tree.Format{})))
	fmt.Println(string(v3.AppendJSON(nil, tree.Format{})))
	// Output:
	// {"users":{"jack":{"first":"Jack","last":"Sparrow"}}}
	// {"users":{"jack":{"first":"Jack","last":"Jones"}}}
	// null
}

func ExampleParseUpdate() {
	root, _ := tree.Parse([]byte(`{"users":{"jack":{"first":"Jack","last":"Sparrow"}}}`), tree.Limits{})
	changes, err := tree.ParseUpdate([]byte(`{"jack/last":"Jones","jill":{"first":"Jill"}}`), tree.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	root = root.Update(tree.Path{"users"}, changes)
	fmt.Println(string(root.AppendJSON(nil, tree.Format{})))
	_, err = tree.ParseUpdate([]byte(`{"jack":null,"jack/last":"Jones"}`), tree.Limits{})
	fmt.Println(err)
	// Output:
	// {"users":{"jack":{"first":"Jack","last":"Jones"},"jill":{"first":"Jill"}}}
	// Invalid data; Path "/jack" is an ancestor of "/jack/last"
}

func ExampleNode_WriteJSON() {
	// Arrays are stored as objects and rendered back as arrays while mostly
	// dense; print=pretty indents as Firebase does.
	v, _ := tree.Parse([]byte(`{"list":["a","b",null,"d"],"sparse":{"2":"c","9":"j"}}`), tree.Limits{})
	_ = v.WriteJSON(os.Stdout, tree.Format{Pretty: true})
	fmt.Println()
	_ = v.WriteJSON(os.Stdout, tree.Format{Shallow: true})
	fmt.Println()
	// Output:
	// {
	//   "list" : [ "a", "b", null, "d" ],
	//   "sparse" : {
	//     "2" : "c",
	//     "9" : "j"
	//   }
	// }
	// {"list":true,"sparse":true}
}

func ExampleNode_Query() {
	scores, _ := tree.Parse([]byte(`{"alice":{"score":50},"bob":{"score":70},"carol":{"score":90},"dan":{"score":10}}`), tree.Limits{})
	q, _, err := tree.ParseQuery(url.Values{"orderBy": {`"score"`}, "startAt": {"40"}, "limitToLast": {"2"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(scores.Query(q).AppendJSON(nil, tree.Format{})))
	_, _, err = tree.ParseQuery(url.Values{"limitToFirst": {"2"}})
	fmt.Println(err)
	// Output:
	// {"bob":{"score":70},"carol":{"score":90}}
	// orderBy must be defined when other query parameters are defined
}

func ExampleResolve() {
	root, _ := tree.Parse([]byte(`{"posts":{"p1":{"likes":41}}}`), tree.Limits{})
	v, _ := tree.Parse([]byte(`{"likes":{".sv":{"increment":1}},"at":{".sv":"timestamp"}}`), tree.Limits{})
	v, err := tree.Resolve(v, tree.Path{"posts", "p1"}, root, time.UnixMilli(1700000000000))
	fmt.Println(string(v.AppendJSON(nil, tree.Format{})), err)
	// Output:
	// {"at":1700000000000,"likes":42} <nil>
}

func ExampleOp_Project() {
	// A stream watching /users/jack sees a patch at /users as a put of what
	// the patch leaves at /users/jack, and one at /users/jack/x re-rooted.
	changes, _ := tree.ParseUpdate([]byte(`{"jack":{"first":"Jack"},"jill/first":"Jill"}`), tree.Limits{})
	op := &tree.Op{Kind: tree.KindPatch, Path: tree.Path{"users"}, Changes: changes}
	fmt.Println(string(op.AppendData(nil)))
	kind, data, ok := op.Project(tree.Path{"users", "jack"})
	fmt.Println(kind, string(data), ok)
	kind, data, ok = op.Project(tree.Path{})
	fmt.Println(kind, string(data), ok)
	_, _, ok = op.Project(tree.Path{"posts"})
	fmt.Println(ok)
	// Output:
	// {"path":"/users","data":{"jack":{"first":"Jack"},"jill/first":"Jill"}}
	// put {"path":"/","data":{"first":"Jack"}} true
	// patch {"path":"/users","data":{"jack":{"first":"Jack"},"jill/first":"Jill"}} true
	// false
}
