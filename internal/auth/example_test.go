package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// A publisher's token is minted with the hub's secret, then read from a
// request and verified the way the publish endpoint does.
func Example() {
	key, err := auth.LoadKey("!ChangeThisMercureHubJWTSecretKey!")
	if err != nil {
		panic(err)
	}
	token, err := auth.Mint(key, auth.MintClaims{
		Publish: []string{"https://example.com/books/{id}"},
		TTL:     time.Hour,
	})
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest(http.MethodPost, "/.well-known/mercure", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	raw, from, err := auth.TokenFromRequest(r)
	if err != nil {
		panic(err)
	}
	v := auth.Verifier{Key: key, Leeway: 5 * time.Second}
	claims, err := v.Verify(raw)
	if err != nil {
		panic(err)
	}
	fmt.Println("token from", from)
	fmt.Println(claims.CanPublish([]string{"https://example.com/books/1"}))
	fmt.Println(claims.CanPublish([]string{"https://example.com/books/1", "https://example.com/authors/1"}))
	// Output:
	// token from header
	// true
	// false
}

func ExampleChallenge() {
	v := auth.Verifier{Key: must(auth.LoadKey("secret"))}
	_, err := v.Verify("not.a.token")
	w := httptest.NewRecorder()
	w.Header().Set("WWW-Authenticate", auth.Challenge(err))
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer realm="herald", error="invalid_token", error_description="the token is malformed"
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
