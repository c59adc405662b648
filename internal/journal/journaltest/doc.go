// Package journaltest is the conformance suite every [journal.Journal]
// implementation passes. An implementation's tests call [Run] with a
// [Factory] that opens fresh journals:
//
//	func TestConformance(t *testing.T) {
//		journaltest.Run(t, journaltest.Factory{
//			Open: func(t *testing.T, ret journal.Retention) journal.Journal {
//				j := journal.NewMemory(ret)
//				t.Cleanup(func() { j.Close() })
//				return j
//			},
//		})
//	}
//
// A journal that several processes share, each with its own handle on one
// store (JetStream), also gives [Factory.OpenPeer]: the multi-node cases
// then run, checking that what one node appends another follows, reads
// and looks up, and that nodes appending at once make one order. The
// others skip them.
//
// Time-dependent behaviour (retention by age) runs inside a
// [testing/synctest] bubble, so Factory.Open must work there: it must start
// whatever goroutines the journal needs, and the journal must take the time
// from [time.Now].
package journaltest
