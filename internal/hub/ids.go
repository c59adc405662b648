package hub

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// subscriberIDs names a hub's subscriptions without storing the names:
// the ID of the nth subscription is n encrypted with a key of the hub's
// own, shown as a version 4 UUID. AES is a permutation, and without the
// key its blocks are as unguessable as random ones, so these IDs are as
// unlikely as random UUIDs to repeat, within a hub or across hubs. A
// subscription keeps 8 bytes for its ID, where the text took 64.
type subscriberIDs struct {
	block cipher.Block
	last  atomic.Uint64
}

func newSubscriberIDs() *subscriberIDs {
	key := make([]byte, 16)
	_, _ = rand.Read(key) // never fails (crypto/rand since Go 1.24)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return &subscriberIDs{block: block}
}

// take returns the serial number of a new subscription.
func (x *subscriberIDs) take() uint64 { return x.last.Add(1) }

// id is the ID of the subscription numbered serial.
func (x *subscriberIDs) id(serial uint64) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[8:], serial)
	x.block.Encrypt(u[:], u[:])
	return formatUUID(u)
}

// NewSubscriberID returns a new random subscriber ID: "urn:uuid:" and a
// version 4 UUID, as a subscription's [Subscription.ID] looks.
func NewSubscriberID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return formatUUID(u)
}

// formatUUID writes u as "urn:uuid:" and a version 4 UUID, setting its
// version and variant bits.
func formatUUID(u [16]byte) string {
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	const prefix = "urn:uuid:"
	var b [len(prefix) + 36]byte
	n := copy(b[:], prefix)
	for i, part := range [][]byte{u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]} {
		if i > 0 {
			b[n] = '-'
			n++
		}
		n += hex.Encode(b[n:], part)
	}
	return string(b[:])
}
