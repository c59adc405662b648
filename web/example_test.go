package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/heraldhub/herald/web"
)

// The live page and the browser client, /herald.js, are mounted at the
// root of a server; more specific routes, such as the hub's, take
// precedence over "GET /".
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("GET /", web.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/", "/herald.js", "/missing"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		res.Body.Close()
		fmt.Println(path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Output:
	// / 200 text/html; charset=utf-8
	// /herald.js 200 text/javascript; charset=utf-8
	// /missing 404 text/plain; charset=utf-8
}
