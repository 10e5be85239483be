// Package errkind owns crhook's two kinds of failure and the exit code of
// each: bad input the caller must change (exit 2) and a failed check
// (exit 1). spec, config, install and the commands share it without
// importing each other. It holds no messages and no policy: a failure's
// text is written where it happens.
package errkind

import "errors"

// Exit codes of every crhook command.
const (
	ExitOK       = 0
	ExitFailed   = 1 // a check failed; crhook refused
	ExitBadInput = 2 // the input or usage must change
)

// ErrBadInput marks errors caused by input the caller must change:
// malformed JSON, a bad annotation value, an unknown profile. Test with
// errors.Is; any other error is a failed check.
var ErrBadInput = errors.New("bad input")

type badInput struct{ err error }

func (b badInput) Error() string        { return b.err.Error() }
func (b badInput) Unwrap() error        { return b.err }
func (b badInput) Is(target error) bool { return target == ErrBadInput }

// BadInput marks err as bad input without changing its message.
func BadInput(err error) error {
	if err == nil {
		return nil
	}
	return badInput{err}
}

// ExitCode maps err to the exit code a command ends with.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrBadInput):
		return ExitBadInput
	}
	return ExitFailed
}
