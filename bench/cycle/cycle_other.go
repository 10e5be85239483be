//go:build !(linux && cgo)

package cycle

import (
	"errors"
	"os"
	"time"
)

// ErrNoCgo is every function's error in a build without cgo.
var ErrNoCgo = errors.New("the PID cycler is C: build crhook-bench with cgo (CGO_ENABLED=1 and a C compiler, such as gcc)")

func Threads() int { return 1 }

func Rate(n, threads int, fork bool) (time.Duration, error) { return 0, ErrNoCgo }

func Advance(target, last, limit int) (int, error) { return 0, ErrNoCgo }

type Exec struct {
	Path   string
	Argv   []string
	Env    []string
	Stdout *os.File
}

func Land(target int, ex *Exec) (int, error) { return 0, ErrNoCgo }
