package boundedio

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge marks input over its limit.
var ErrTooLarge = errors.New("input too large")

// ReadAll reads r to EOF, failing once more than limit bytes arrive.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}
