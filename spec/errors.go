package spec

import "errors"

// ErrBadInput marks errors caused by input the caller must change (exit 2):
// malformed JSON, a bad annotation value, an unknown profile. Test with
// errors.Is; any other error is a failed check (exit 1).
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
