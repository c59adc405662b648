package selector_test

import (
	"fmt"

	"github.com/heraldhub/herald/internal/selector"
)

func ExampleParse() {
	sel, err := selector.Parse("https://example.com/books/{id}")
	if err != nil {
		panic(err)
	}
	fmt.Println(sel.Match("https://example.com/books/1"))
	fmt.Println(sel.Match("https://example.com/books/1/reviews")) // "{id}" never matches "/"
	fmt.Println(sel.Match("https://example.com/books/{id}"))      // a selector matches itself
	// Output:
	// true
	// false
	// true
}

func ExampleParse_error() {
	_, err := selector.Parse("https://example.com/books/{id")
	fmt.Println(err)
	// Output:
	// selector: invalid topic selector "https://example.com/books/{id": unclosed '{' at offset 26
}

func ExampleSelector_Exact() {
	for _, s := range []string{"https://example.com/books/1", "https://example.com/books/{id}", "*"} {
		sel, _ := selector.Parse(s)
		topic, ok := sel.Exact()
		fmt.Printf("%q %v %v\n", topic, ok, sel.IsAll())
	}
	// Output:
	// "https://example.com/books/1" true false
	// "" false false
	// "" false true
}

func ExampleSet_MatchAny() {
	// The mercure.subscribe claim of a subscriber allowed to see its own
	// private updates.
	grants, err := selector.ParseSet([]string{"https://example.com/users/kevin/{?topic}"})
	if err != nil {
		panic(err)
	}
	// A private update: its canonical topic, then an alternate topic naming
	// the user it is meant for.
	update := []string{
		"https://example.com/books/1",
		"https://example.com/users/kevin/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
	}
	fmt.Println(grants.MatchAny(update))
	fmt.Println(grants.MatchAny(update[:1]))
	// Output:
	// true
	// false
}
