package rules_test

import (
	"fmt"
	"log"
	"time"

	"github.com/heraldhub/herald/internal/state/rules"
)

func ExampleParse() {
	rs, err := rules.Parse([]byte(`{
	  "rules": {
	    // Nothing is readable unless a rule below says so.
	    ".read": false,
	    "users": {
	      "$uid": {
	        ".read": "auth != null && auth.uid == $uid",
	        ".write": "auth != null && auth.uid == $uid"
	      }
	    },
	    "public": {".read": true, ".write": "auth != null && auth.token.admin == true"}
	  }
	}`))
	if err != nil {
		log.Fatal(err)
	}
	alice := &rules.Auth{UID: "alice", Token: map[string]any{"sub": "alice"}}
	now := time.Now()

	fmt.Println(rs.CanRead([]string{"users", "alice", "email"}, alice, now))
	fmt.Println(rs.CanRead([]string{"users", "bob"}, alice, now))
	fmt.Println(rs.CanRead([]string{"users"}, alice, now)) // rules are not filters
	fmt.Println(rs.CanRead([]string{"public", "news"}, nil, now))
	fmt.Println(rs.CanWrite([]string{"public", "news"}, alice, now)) // no admin claim: false
	// Output:
	// true
	// false
	// false
	// true
	// false
}

func ExampleParse_error() {
	_, err := rules.Parse([]byte(`{"rules": {"users": {"$uid": {".read": "auth.uid == $user"}}}}`))
	fmt.Println(err)
	// Output:
	// rules: /users/$uid/.read: $user is not a variable of this rule's path at 1:13
}

func ExampleParseGrants() {
	// The "db" claim of a device's token: {"read": [...], "write": [...]}.
	write, err := rules.ParseGrants([]string{"/devices/{id}/status"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(write.Covers([]string{"devices", "d1", "status"}))
	fmt.Println(write.Covers([]string{"devices", "d1", "status", "battery"}))
	fmt.Println(write.Covers([]string{"devices", "d1"}))

	_, err = rules.ParseGrants([]string{"/devices/*"})
	fmt.Println(err)
	// Output:
	// true
	// true
	// false
	// rules: invalid grant "/devices/*": "*" stands alone; write {name} for any key
}

func ExampleAccess() {
	rs, err := rules.Parse([]byte(`{"rules": {"public": {".read": true}}}`))
	if err != nil {
		log.Fatal(err)
	}
	access := rules.NewAccess(rs)
	reports, err := rules.ParseGrants([]string{"/reports"})
	if err != nil {
		log.Fatal(err)
	}
	service := rules.Who{ReadGrants: reports, Auth: &rules.Auth{UID: "svc"}}
	now := time.Now()

	fmt.Println(access.CanRead([]string{"reports", "q1"}, service, now)) // its grant
	fmt.Println(access.CanRead([]string{"public"}, service, now))        // the rules
	fmt.Println(access.CanRead([]string{"private"}, service, now))       // neither
	fmt.Println(access.CanWrite([]string{"private"}, rules.Who{Admin: true}, now))

	// On reload (SIGHUP), the new rules replace the old for the next request.
	access.Set(nil)
	fmt.Println(access.CanRead([]string{"public"}, service, now)) // grants alone now
	// Output:
	// true
	// true
	// false
	// true
	// false
}
