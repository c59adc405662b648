package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// revoke asks a hub to revoke tokens by their ID: requests with them are
// refused from then on, and the state streams opened with them end with
// auth_revoked.
func revoke(env *Env, args []string) error {
	fs := newFlagSet(env, "revoke", "revoke [flags] JTI...")
	hub := fs.String("hub", "http://localhost:8080", "the hub's base URL")
	admin := fs.String("admin-token", "", "the hub's --db-admin-token (default: $HERALD_DB_ADMIN_TOKEN)")
	until := fs.String("until", "", "when the revocation may lapse: the tokens' expiry, as RFC 3339 or Unix seconds (default: never)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"revoke needs the IDs (jti claims) of the tokens to revoke"}
	}
	token := *admin
	if token == "" {
		token = env.vars["HERALD_DB_ADMIN_TOKEN"]
	}
	if token == "" {
		return usageError{"revoke needs the hub's admin token: --admin-token or HERALD_DB_ADMIN_TOKEN"}
	}
	form := url.Values{"jti": fs.Args()}
	if *until != "" {
		secs, err := strconv.ParseInt(*until, 10, 64)
		if err != nil {
			t, terr := time.Parse(time.RFC3339, *until)
			if terr != nil {
				return usageError{"--until is neither RFC 3339 nor Unix seconds: " + *until}
			}
			secs = t.Unix()
		}
		form.Set("until", strconv.FormatInt(secs, 10))
	}
	req, err := http.NewRequestWithContext(env.ctx, http.MethodPost, strings.TrimSuffix(*hub, "/")+"/.well-known/herald/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("revoke: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(env.stdout, "revoked", strings.Join(fs.Args(), " "))
	return nil
}
