package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/probe"
)

// seedCycleRate is what the seed measured for PID cycling, in PIDs per
// second; the figure shows this machine's rate beside it.
const seedCycleRate = 100_000

// PIDPlacement is figure 3: a tree of c.Processes processes placed at
// chosen PIDs with clone3 set_tid against the same tree reached by PID
// cycling, and set_tid near the allocator's last PID against far from
// it. It runs in a fresh PID and mount namespace, as that namespace's
// init, so the PIDs are free and pid_max is known.
func PIDPlacement(c Config) (Figure, error) {
	hostMax, err := probe.PIDMax()
	if err != nil {
		return Figure{}, err
	}
	job, err := json.Marshal(pidJob{
		Pairs: c.Pairs, Processes: c.Processes, Spread: c.Spread, Self: c.Bin.Self,
		PIDMax: max(c.PIDMax, treeSpace(c.Pairs, c.Spread)), HostMax: hostMax,
	})
	if err != nil {
		return Figure{}, fmt.Errorf("encode job: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), namespaceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin.Self, PIDNamespaceArg, string(job))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, c.Progress)
	}
	if err := cmd.Run(); err != nil {
		return Figure{}, fmt.Errorf("PID namespace: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var s pidSamples
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		return Figure{}, fmt.Errorf("PID namespace sent no samples: %w", err)
	}
	if len(s.SetTID) == 0 || len(s.Near) == 0 {
		return Figure{}, errors.New("PID namespace sent no samples")
	}
	return pidFigure(c, s), nil
}

func pidFigure(c Config, s pidSamples) Figure {
	n := float64(c.Processes)
	setTID, cycle := millis(s.SetTID), millis(s.Cycle)
	cycled := make([]float64, len(cycle))
	perPlaced := make([]float64, len(cycle))
	for i := range cycle {
		cycled[i] = float64(s.CycleForks[i]) / (cycle[i] / 1000)
		perPlaced[i] = float64(s.CycleForks[i]) / n
	}
	perProcess := func(ms []float64) []float64 {
		out := make([]float64, len(ms))
		for i, m := range ms {
			out[i] = m * 1000 / n
		}
		return out
	}
	near, far := perProcess(millis(s.Near)), perProcess(millis(s.Far))
	cycleRate := median(cycled)
	return Figure{
		Title: "3. PID placement: clone3 set_tid vs. PID cycling",
		Setup: fmt.Sprintf("a tree of %d processes (a parent, then %d children under it) at chosen PIDs spread over a window of %d PIDs, a new window per pair, in a fresh PID namespace with pid_max %d; %d interleaved pairs",
			c.Processes, c.Processes-1, c.Spread, s.PIDMax, c.Pairs),
		Rows: []Row{
			info("set_tid: tree placed in", median(setTID), "ms"),
			info("set_tid: processes placed per second", n/(median(setTID)/1000), "/s"),
			info("cycling: tree placed in", median(cycle), "ms"),
			info("cycling: processes placed per second", n/(median(cycle)/1000), "/s"),
			medianRow("cycling: PIDs cycled per second", cycled, "/s"),
			info("cycling: PIDs cycled per process placed", median(perPlaced), ""),
			medianRow("cycling time / set_tid time", ratios(cycle, setTID), "x"),
			info(fmt.Sprintf("set_tid near (distance %d): per process", s.NearDistance), median(near), "us"),
			info(fmt.Sprintf("set_tid far (distance %d): per process", s.FarDistance), median(far), "us"),
			checkedMedian("set_tid far / near", ratios(far, near), "x", within(0.8, 1.25)),
		},
		Notes: []string{
			"both trees include one exec: the parent is this program, which places its children; every process exits at once and is reaped",
			"cycling creates children that exit at once until the kernel hands out the wanted PID (clone3 without set_tid), so it pays one process per PID between the wanted ones; spread over all of pid_max instead of one window, the same tree costs it about pid_max/window times as much, and set_tid the same (see near and far)",
			fmt.Sprintf("the seed measured cycling at about %d PIDs/s; here it ran at %.0f%% of that", seedCycleRate, 100*cycleRate/seedCycleRate),
			"near and far: set_tid places a block of consecutive PIDs just above ns_last_pid and one just below pid_max, from one process, alternating PID by PID; distance = first PID - ns_last_pid",
		},
	}
}
