package rules

import "errors"

var (
	// ErrInvalidGrant reports a grant pattern that does not parse. A token
	// carrying one is malformed, not merely short of access.
	ErrInvalidGrant = errors.New("rules: invalid grant")
	// ErrInvalidRules reports a rules file that does not parse or whose
	// expressions do not compile; [Parse] and [Load] wrap it, so that a
	// reload can tell a broken file from one it could not read.
	ErrInvalidRules = errors.New("rules: invalid rules")
)

// rulesError is a rules file refused by Parse: where in the rules (a rule
// path such as "/users/$uid/.read", or a line and column for JSON syntax)
// and what. Its message starts with "rules: " and does not repeat the
// sentinel's text, which only says what the error is.
type rulesError struct {
	file  string // set by Load
	where string
	msg   string
}

func (e *rulesError) Error() string {
	s := "rules: "
	if e.file != "" {
		s += e.file + ": "
	}
	if e.where != "" {
		s += e.where + ": "
	}
	return s + e.msg
}

func (e *rulesError) Unwrap() error { return ErrInvalidRules }
