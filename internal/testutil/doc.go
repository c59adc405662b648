// Package testutil holds the helpers that Herald's tests share, so that each
// has one copy instead of one per package:
//
//   - [CheckFor] polls a condition until it holds, where a test would
//     otherwise sleep a fixed time;
//   - [CheckNoLeaks] fails a test that leaves goroutines running;
//   - [ScriptedServer] is an event-stream server whose connections the test
//     drives one by one: it sees each request, for instance its
//     Last-Event-ID, and sends raw stream text or drops the connection.
//
// [WaitTimeout] bounds every wait for something that should happen. A test
// never waits to show that something does not happen: it makes something
// happen after it instead (publishes a matching event, opens another
// connection) and checks that this is the next thing to arrive.
//
// Only tests import this package.
package testutil
