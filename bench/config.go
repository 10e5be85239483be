package bench

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Config is what every figure needs.
type Config struct {
	// Pairs is how many interleaved pairs (rounds) each figure runs.
	Pairs int
	// Src is the crhook checkout crhook and crhook-hook were built from.
	Src string
	// Checkout is the one this program runs from: the figures' inputs
	// (specs, dumps, sources) come from it, whatever Src is.
	Checkout string
	Bin      Binaries
	// Dir is a scratch directory the figures may fill.
	Dir string
	// Progress receives one line per step, for a human watching.
	Progress io.Writer
	// Processes is the size of the placed tree (figure 3).
	Processes int
	// Spread is the width of the window of PIDs each placed tree of
	// figure 3 is spread over.
	Spread int
	// PIDMax is the pid_max of the namespace figure 3 places PIDs in.
	PIDMax int
	// SpecMB are the sizes of the large specs of figure 2, in MB.
	SpecMB []float64
	// CRIU is a criu >= 3.18 for figure 5's rows against criu restore;
	// empty leaves them out.
	CRIU string
}

// MinPairs is the fewest pairs a figure must have to count: noise on
// these machines needs at least that many.
const MinPairs = 20

func (c Config) logf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// Deadlines: a hung runtime or namespace fails the run instead of
// holding it. One command gets commandTimeout; figure 3's namespace,
// which runs every pair of that figure, gets namespaceTimeout.
const (
	commandTimeout   = 2 * time.Minute
	namespaceTimeout = 30 * time.Minute
)

func withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), commandTimeout)
}

var idSeq atomic.Int64

// containerID is unique per run and per container.
func containerID(pid int) string {
	return fmt.Sprintf("crhook-bench-%d-%d", pid, idSeq.Add(1))
}
