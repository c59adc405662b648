package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/state/rules"
)

func token(env *Env, args []string) error {
	fs := newFlagSet(env, "token", "token [flags]")
	key := fs.String("key", "", "signing `key`: an HMAC secret, PEM text, or file:PATH of a secret or PEM private key (default: the key herald serve generated beside --data)")
	data := fs.String("data", "herald.db", "the serve --data file whose generated key to use when --key is empty")
	pub := &stringList{split: true}
	fs.Var(pub, "publish", "topic selectors the token may publish to (repeatable or comma-separated; * for all)")
	sub := &stringList{split: true}
	fs.Var(sub, "subscribe", "topic selectors whose private events the token may receive (repeatable or comma-separated; * for all)")
	payload := fs.String("payload", "", "JSON value attached to the token's subscriptions (mercure.payload)")
	subject := fs.String("subject", "", "the token's sub claim")
	dbRead := &stringList{split: true}
	fs.Var(dbRead, "db-read", "state tree paths the token may read, with what is below them (repeatable or comma-separated; {name} stands for any key; / for the whole tree)")
	dbWrite := &stringList{split: true}
	fs.Var(dbWrite, "db-write", "state tree paths the token may write (as --db-read)")
	jti := fs.String("jti", "", "the token's jti claim: the ID herald revoke names")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token (0: no expiry)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"token takes no arguments"}
	}
	if len(pub.values) == 0 && len(sub.values) == 0 && len(dbRead.values) == 0 && len(dbWrite.values) == 0 && *subject == "" {
		return usageError{"token needs --publish, --subscribe, --db-read, --db-write, or --subject (for the state tree's rules)"}
	}
	for _, g := range [][]string{dbRead.values, dbWrite.values} {
		if _, err := rules.ParseGrants(g); err != nil {
			return usageError{err.Error()}
		}
	}
	var k auth.Key
	var err error
	if *key != "" {
		k, err = auth.LoadKey(*key)
	} else {
		path := keyFile(*data)
		k, err = auth.LoadKey(auth.FilePrefix + path)
		if errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("no signing key: %s does not exist. herald serve writes its generated key beside its --data file; "+
				"give --data the path of that file (e.g. --data /var/lib/herald/herald.db) or the key itself with --key "+
				"(the hub's --publisher-key or --subscriber-key)", path)
		}
	}
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	var pl any
	if *payload != "" {
		if err := json.Unmarshal([]byte(*payload), &pl); err != nil {
			return usageError{"--payload is not JSON: " + err.Error()}
		}
	}
	t, err := auth.Mint(k, auth.MintClaims{
		Publish: pub.values, Subscribe: sub.values, Payload: pl, Subject: *subject, TTL: *ttl,
		ID: *jti, DBRead: dbRead.values, DBWrite: dbWrite.values,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, t)
	return nil
}
