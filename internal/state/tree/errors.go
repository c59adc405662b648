package tree

// Error is a request's fault that a client can read and correct: a malformed
// path, JSON body or query, an invalid key, a write too large or too deep.
// Its message is worded for the client, the way the Firebase REST API words
// its own, so the HTTP layer can answer {"error": err.Error()} with 400.
type Error struct {
	Msg string
}

// Error returns the message, as it is to be shown to the client.
func (e *Error) Error() string { return e.Msg }

func errorf(msg string) *Error { return &Error{Msg: msg} }
