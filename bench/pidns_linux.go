package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/bench/cycle"
	"github.com/crhook/crhook/internal/probe"
)

// PIDNamespaceArg makes the benchmark program the init of figure 3's
// fresh PID namespace; its one argument after this is a pidJob as JSON.
const PIDNamespaceArg = "__crhook-bench-pidns"

// pidJob is what figure 3 asks of the namespace's init.
type pidJob struct {
	Pairs     int    `json:"pairs"`
	Processes int    `json:"processes"`
	Spread    int    `json:"spread"`
	PIDMax    int    `json:"pid_max"`
	HostMax   int    `json:"host_pid_max"`
	Self      string `json:"self"`
}

// pidSamples are the raw timings the init sends back.
type pidSamples struct {
	PIDMax int `json:"pid_max"`
	// SetTID and Cycle time a whole tree placed with set_tid and by
	// cycling; CycleForks counts the processes each cycling run created.
	SetTID     []time.Duration `json:"set_tid"`
	Cycle      []time.Duration `json:"cycle"`
	CycleForks []int           `json:"cycle_forks"`
	// Near and Far time set_tid placing blocks of PIDs just above the
	// allocator's last PID and just below pid_max.
	Near         []time.Duration `json:"near"`
	Far          []time.Duration `json:"far"`
	NearDistance int             `json:"near_distance"`
	FarDistance  int             `json:"far_distance"`
	// Fork, VFork and VForkThreads time RateN children that exit at once:
	// fork() from one thread, vfork() from one, vfork() from Threads.
	RateN        int             `json:"rate_n"`
	Threads      int             `json:"threads"`
	Fork         []time.Duration `json:"fork"`
	VFork        []time.Duration `json:"vfork"`
	VForkThreads []time.Duration `json:"vfork_threads"`
	// Land times Processes children created as set_tid creates them but
	// without set_tid, each reaped: what cycling pays to land a process.
	Land []time.Duration `json:"land"`
}

// rateN is how many children each cycling-rate run creates: enough for a
// tenth of a second or more at the fastest rate.
const rateN = 5000

// nearGap keeps the near block clear of PIDs the Go runtime may take for
// new threads while the block is placed.
const nearGap = 16

// treeLow is the lowest PID a tree is placed at: the kernel hands out
// PIDs from 300 after wrapping, as it does in every namespace.
const treeLow = 300

// RunPIDNamespace is the init side of figure 3. It mounts a private
// /proc for its namespace, sets the namespace's pid_max, measures, and
// writes pidSamples as JSON to stdout.
func RunPIDNamespace(args []string, stdout, progress io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("want one job argument, got %d", len(args))
	}
	if os.Getpid() != 1 {
		// It remounts /proc: only ever in a namespace of its own.
		return fmt.Errorf("must run as the init of a fresh PID and mount namespace, not as pid %d", os.Getpid())
	}
	var job pidJob
	if err := json.Unmarshal([]byte(args[0]), &job); err != nil {
		return fmt.Errorf("parse job: %w", err)
	}
	if err := mountOwnProc(); err != nil {
		return err
	}
	pidMax, err := setPIDMax(job)
	if err != nil {
		return err
	}
	if need := treeSpace(job.Pairs, job.Spread); pidMax < need {
		return fmt.Errorf("pid_max %d leaves no room for %d windows of %d PIDs (%d needed); lower -spread or -pairs", pidMax, job.Pairs+1, job.Spread, need)
	}
	samples := pidSamples{PIDMax: pidMax}
	if err := measureDistance(job, pidMax, &samples); err != nil {
		return err
	}
	fmt.Fprintf(progress, "pids: set_tid near/far: %d rounds done\n", job.Pairs)
	if err := measureTrees(job, &samples); err != nil {
		return err
	}
	fmt.Fprintf(progress, "pids: set_tid vs. cycling: %d rounds done\n", job.Pairs)
	if err := measureRates(job, &samples); err != nil {
		return err
	}
	fmt.Fprintf(progress, "pids: cycling rates: %d rounds done\n", job.Pairs)
	if err := json.NewEncoder(stdout).Encode(samples); err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	return nil
}

// mountOwnProc mounts a proc of this PID namespace on /proc, in this
// private mount namespace, so pid_max and ns_last_pid are its own.
func mountOwnProc() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	return nil
}

// setPIDMax sets the namespace's pid_max to the job's, so both methods
// work in a space of known size. It writes only when the namespace shows
// a pid_max of its own (Linux 6.14 and later): on older kernels the file
// is the host's, which must not change, and its value is used as it is.
func setPIDMax(job pidJob) (int, error) {
	cur, err := probe.PIDMax()
	if err != nil {
		return 0, err
	}
	if cur == job.HostMax || cur == job.PIDMax {
		return cur, nil
	}
	if err := os.WriteFile("/proc/sys/kernel/pid_max", []byte(strconv.Itoa(job.PIDMax)), 0); err != nil {
		return 0, fmt.Errorf("set the namespace's pid_max: %w", err)
	}
	return probe.PIDMax()
}

// measureDistance times set_tid placing a block of PIDs right after the
// allocator's last PID against one just below pid_max, from one process
// with no exec. The two blocks are interleaved PID by PID, so that load
// on the machine weighs on both alike, and each pair sums its placements
// per block. set_tid does not move the allocator, so the blocks stay
// where they are from pair to pair.
func measureDistance(job pidJob, pidMax int, s *pidSamples) error {
	n := job.Processes
	last, err := probe.LastPID()
	if err != nil {
		return err
	}
	near, err := probe.FreePIDs(n, last+nearGap, last+nearGap+n+n/2)
	if err != nil {
		return fmt.Errorf("near block: %w", err)
	}
	far, err := probe.FreePIDs(n, pidMax-n-n/2, pidMax)
	if err != nil {
		return fmt.Errorf("far block: %w", err)
	}
	s.NearDistance, s.FarDistance = near[0]-last, far[0]-last
	blocks := [][]int{near, far}
	for pair := -1; pair < job.Pairs; pair++ {
		var sums [2]time.Duration
		for k := range n {
			for _, i := range order(max(pair, 0)+k, 2) {
				took, err := placeFlat(blocks[i][k : k+1])
				if err != nil {
					return err
				}
				sums[i] += took
			}
		}
		if pair >= 0 { // pair -1 warms up
			s.Near = append(s.Near, sums[0])
			s.Far = append(s.Far, sums[1])
		}
	}
	return nil
}

func placeFlat(pids []int) (time.Duration, error) {
	start := time.Now()
	placed, _ := probe.Place(pids)
	took := time.Since(start)
	if len(placed) == 0 {
		return 0, fmt.Errorf("no PIDs to place")
	}
	if len(placed) != len(pids) || !placed[len(placed)-1].OK() {
		last := placed[len(placed)-1]
		return 0, fmt.Errorf("set_tid at %d gave %d %s", last.Want, last.Got, last.Error)
	}
	return took, nil
}

// measureTrees times a tree placed with set_tid against the same tree
// reached by PID cycling, interleaved. Each pair places its tree in its
// own window of the PID space, the windows in ascending order, so that
// cycling moves forward from where the last pair left the allocator and
// every pair asks it to cover the same distance.
func measureTrees(job pidJob, s *pidSamples) error {
	for pair := -1; pair < job.Pairs; pair++ {
		pids, err := treePIDs(job, pair+1)
		if err != nil {
			return err
		}
		var setTID, cycle time.Duration
		var forks int
		for _, i := range order(max(pair, 0), 2) {
			if i == 0 {
				setTID, err = setTIDTree(job.Self, pids)
			} else {
				cycle, forks, err = cycleTree(job.Self, pids, s.PIDMax)
			}
			if err != nil {
				return err
			}
		}
		if pair >= 0 { // pair -1 warms up
			s.SetTID = append(s.SetTID, setTID)
			s.Cycle = append(s.Cycle, cycle)
			s.CycleForks = append(s.CycleForks, forks)
		}
	}
	return nil
}

// threadRoom is how far a tree's PIDs keep from its window's edges and
// its parent from its first child: a Go parent takes the next few PIDs
// from the allocator for its threads, and a PID a thread took cannot be
// reached again without a whole turn of the allocator.
const threadRoom = 32

// treePIDs picks the PIDs of window w: the parent near its start, the
// children spread over the rest.
func treePIDs(job pidJob, w int) ([]int, error) {
	lo := treeLow + w*job.Spread
	children, err := probe.FreePIDs(job.Processes-1, lo+2*threadRoom, lo+job.Spread-threadRoom)
	if err != nil {
		return nil, fmt.Errorf("window %d: %w", w, err)
	}
	parent, err := probe.FreePIDs(1, lo+threadRoom, lo+2*threadRoom)
	if err != nil {
		return nil, fmt.Errorf("window %d: %w", w, err)
	}
	return append(parent, children...), nil
}

// treeSpace is the PID space the windows of a job need.
func treeSpace(pairs, spread int) int {
	return treeLow + (pairs+2)*spread
}

func setTIDTree(self string, pids []int) (time.Duration, error) {
	start := time.Now()
	tree, err := probe.PlaceTree(self, pids)
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("set_tid tree: %w", err)
	}
	if err := treeOK(tree, len(pids)); err != nil {
		return 0, fmt.Errorf("set_tid tree: %w", err)
	}
	return took, nil
}

func cycleTree(self string, pids []int, pidMax int) (time.Duration, int, error) {
	start := time.Now()
	tree, forks, err := cycle.Tree(self, pids, pidMax)
	took := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("cycled tree: %w", err)
	}
	if err := treeOK(tree, len(pids)); err != nil {
		return 0, 0, fmt.Errorf("cycled tree: %w", err)
	}
	return took, forks, nil
}

// measureRates times the cyclers against each other, interleaved: fork
// and vfork from one thread, vfork from cycle.Threads threads; and the
// clone3 that lands a cycled process, without set_tid. It runs after the
// trees: it moves the allocator around the whole PID space.
func measureRates(job pidJob, s *pidSamples) error {
	s.RateN, s.Threads = rateN, cycle.Threads()
	runs := []func() (time.Duration, error){
		func() (time.Duration, error) { return cycle.Rate(rateN, 1, true) },
		func() (time.Duration, error) { return cycle.Rate(rateN, 1, false) },
		func() (time.Duration, error) { return cycle.Rate(rateN, s.Threads, false) },
		func() (time.Duration, error) { return landMany(job.Processes) },
	}
	for pair := -1; pair < job.Pairs; pair++ {
		took := make([]time.Duration, len(runs))
		for _, i := range order(max(pair, 0), len(runs)) {
			d, err := runs[i]()
			if err != nil {
				return fmt.Errorf("cycling rates: %w", err)
			}
			took[i] = d
		}
		if pair >= 0 { // pair -1 warms up
			s.Fork = append(s.Fork, took[0])
			s.VFork = append(s.VFork, took[1])
			s.VForkThreads = append(s.VForkThreads, took[2])
			s.Land = append(s.Land, took[3])
		}
	}
	return nil
}

// landMany creates n children with cycle.Land, reaping each.
func landMany(n int) (time.Duration, error) {
	start := time.Now()
	for range n {
		pid, err := cycle.Land(0, nil)
		if err != nil {
			return 0, err
		}
		if _, err := probe.Reap(pid); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// treeOK says which process of the tree missed its PID, if any.
func treeOK(t probe.Tree, n int) error {
	if t.OK() && len(t.Children) == n-1 {
		return nil
	}
	if !t.Parent.OK() {
		return fmt.Errorf("parent wanted %d, got %d %s", t.Parent.Want, t.Parent.Got, t.Parent.Error)
	}
	for _, c := range t.Children {
		if !c.OK() {
			return fmt.Errorf("child wanted %d, got %d %s", c.Want, c.Got, c.Error)
		}
	}
	return fmt.Errorf("%d of %d processes placed", len(t.Children)+1, n)
}
