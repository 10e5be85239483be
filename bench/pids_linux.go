package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

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
	perPlaced := make([]float64, len(cycle))
	passedCost := make([]float64, 0, len(cycle))
	for i := range cycle {
		perPlaced[i] = float64(s.CycleForks[i]) / n
		if passed := float64(s.CycleForks[i]) - n; passed > 0 {
			passedCost = append(passedCost, (cycle[i]-setTID[i])*1000/passed)
		}
	}
	rate := func(ds []time.Duration) []float64 {
		out := make([]float64, len(ds))
		for i, d := range ds {
			out[i] = float64(s.RateN) / d.Seconds()
		}
		return out
	}
	perProcess := func(ms []float64) []float64 {
		out := make([]float64, len(ms))
		for i, m := range ms {
			out[i] = m * 1000 / n
		}
		return out
	}
	near, far, land := perProcess(millis(s.Near)), perProcess(millis(s.Far)), perProcess(millis(s.Land))
	serial, fastest := median(rate(s.VFork)), median(rate(s.VForkThreads))
	passed := 1e6 / serial // µs per PID cycled one by one, as near a wanted PID
	crossover := 1 + max(0, median(near)-median(land))/passed
	rows := []Row{
		medianRow("cycling rate: fork(), one thread", rate(s.Fork), "PIDs/s"),
		medianRow("cycling rate: vfork(), one thread", rate(s.VFork), "PIDs/s"),
		medianRow(fmt.Sprintf("cycling rate: vfork(), %d threads (the cycler, far from a wanted PID)", s.Threads), rate(s.VForkThreads), "PIDs/s"),
		medianRow("fastest cycler / fork() loop", ratios(rate(s.VForkThreads), rate(s.Fork)), "x"),
		info("set_tid: tree placed in", median(setTID), "ms"),
		info("cycling: tree placed in", median(cycle), "ms"),
		info("cycling: processes created per process placed", median(perPlaced), ""),
		medianRow("cycling time / set_tid time", ratios(cycle, setTID), "x"),
		info("cost: set_tid, one process", median(near), "us"),
		info("cost: clone3 without set_tid, one process (cycling's landing)", median(land), "us"),
		info("cost: cycling, one PID passed over (vfork, one thread)", passed, "us"),
		medianRow("cost: cycling in the trees, per PID passed over", passedCost, "us"),
		info("crossover: cycling wins only with wanted PIDs closer than", crossover, "PIDs apart"),
		info(fmt.Sprintf("set_tid near (distance %d): per process", s.NearDistance), median(near), "us"),
		info(fmt.Sprintf("set_tid far (distance %d): per process", s.FarDistance), median(far), "us"),
		checkedMedian("set_tid far / near", ratios(far, near), "x", within(0.8, 1.25)),
	}
	return Figure{
		Title: "3. PID placement: clone3 set_tid vs. PID cycling",
		Setup: fmt.Sprintf("a tree of %d processes (a parent, then %d children under it) at chosen PIDs spread over a window of %d PIDs, a new window per pair, in a fresh PID namespace with pid_max %d; cycling rates from %d children per run; %d interleaved pairs",
			c.Processes, c.Processes-1, c.Spread, s.PIDMax, s.RateN, c.Pairs),
		Rows:  rows,
		Notes: pidNotes(fastest),
	}
}

func pidNotes(fastest float64) []string {
	return []string{
		"the cycler (bench/cycle, in C) creates children that exit at once with vfork(), which copies no address space: from several threads while the wanted PID is far, one at a time near it; the process that lands at the wanted PID is created with clone3 and a copy of the address space, as set_tid's is, so the two trees differ only in the PIDs cycling passes over",
		"both trees include one exec: the parent is this program, which places its children; every process exits at once and is reaped",
		"cost model: a process g PIDs after the one before costs cycling (g-1) passed-over PIDs and one landing clone3, and set_tid one clone3; cycling wins only when (g-1) x (cost per PID) < (set_tid cost - landing cost), which the crossover row solves for g; 1 means never, as a cycled process costs at least its own PID; spread over all of pid_max instead of one window, cycling costs about pid_max/window times as much, set_tid the same (see near and far)",
		fmt.Sprintf("the seed measured cycling at about %d PIDs/s on four cores; here the fastest cycler ran at %.0f PIDs/s on %d CPUs", seedCycleRate, fastest, runtime.NumCPU()),
		"near and far: set_tid places a block of consecutive PIDs just above ns_last_pid and one just below pid_max, from one process, alternating PID by PID; distance = first PID - ns_last_pid",
	}
}
