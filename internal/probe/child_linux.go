package probe

import (
	"fmt"
	"io"
)

// RunChild runs the helper modes probe starts its own program in (the
// parent of a tree placed with set_tid, the init that mounts a fresh
// /proc). A program that calls PlaceTree or FreshProc on itself must call
// RunChild first thing in main. ok reports whether args named such a
// mode; code is its exit status.
func RunChild(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case TreeChildArg:
		return RunTreeParent(args[1:], stdout), true
	case MountProcArg:
		if err := MountProc(); err != nil {
			fmt.Fprintln(stderr, err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
