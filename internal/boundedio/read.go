package boundedio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge marks input over its limit.
var ErrTooLarge = errors.New("input too large")

// ReadAll reads r to EOF, failing once more than limit bytes arrive.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	// One buffer of the right size from the start: in a hook's short life
	// each regrowth is fresh memory, which costs page faults.
	buf.Grow(int(min(sizeHint(r), limit+1)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// pipeHint is what ReadAll expects from a pipe: room for a typical
// config.json, which is 10 to 30 KiB.
const pipeHint = 64 << 10

// procHint is where a read of a file that states no size starts (a
// /proc/PID/status is under 2 KB, a container's mountinfo a few KB): a
// larger buffer is fresh memory, zeroed page by page, on every read.
const procHint = 4 << 10

// sizeHint is how much r will give: a regular file's size, procHint
// for one that states none, else pipeHint.
func sizeHint(r io.Reader) int64 {
	// A concrete type: asserting an interface would build an itab, which
	// a hook pays for on its first call.
	if f, ok := r.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			if info.Size() > 0 {
				return info.Size()
			}
			// procfs and sysfs files: size 0, a few KB to read.
			return procHint
		}
	}
	return pipeHint
}
