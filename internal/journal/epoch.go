package journal

import (
	"crypto/rand"
	"encoding/base32"
)

// epochEncoding spells epochs in lowercase letters and digits only, so they
// never contain the ':' that separates an ID's epoch from its position.
var epochEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewEpoch returns a fresh random epoch: 13 lowercase base-32 characters
// carrying 64 random bits. A journal takes a new epoch whenever its storage
// starts empty, so IDs issued by an earlier incarnation resolve to
// ErrUnknownID instead of to an unrelated event that reused the position.
func NewEpoch() string {
	var b [8]byte
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b[:])
	return epochEncoding.EncodeToString(b[:])
}
