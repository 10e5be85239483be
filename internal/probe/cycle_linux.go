package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// CycleTreeChildArg is the argument that makes the program the parent of
// a cycled tree: `PROG CycleTreeChildArg LIMIT PID...` reaches each PID by
// PID cycling and prints a CycledChildren as JSON. Any program that calls
// CycleTree on itself must dispatch it to RunCycleTreeParent.
const CycleTreeChildArg = "__crhook-cycle-tree-parent"

// CycledChildren is what the parent of a cycled tree reports.
type CycledChildren struct {
	Children []Placement `json:"children"`
	// Forks counts the processes it created, the placed ones included.
	Forks int `json:"forks"`
}

// Cycle reaches each PID in pids, in order, the way restore tools did
// before clone3 set_tid: it creates children that exit at once until the
// kernel hands out the wanted PID, and reaps every one. The child that
// got the PID counts as placed. limit bounds the children created for
// one PID (one turn of the PID space is enough when the PID is free). It
// returns the placements, stopping at the first failure, and the number
// of children created.
func Cycle(pids []int, limit int) ([]Placement, int, time.Duration) {
	var out []Placement
	forks := 0
	start := time.Now()
	for _, want := range pids {
		p, n := cycleOne(want, limit, nil)
		forks += n
		if p.OK() {
			if _, err := reap(p.Got); err != nil {
				p.Error = err.Error()
			}
		}
		out = append(out, p)
		if !p.OK() {
			break
		}
	}
	return out, forks, time.Since(start)
}

// cycleOne creates children until one gets want, reaping the others. The
// child that got want execs ex (exits at once when ex is nil) and is left
// for the caller to reap.
func cycleOne(want, limit int, ex *execArgs) (Placement, int) {
	p := Placement{Want: want}
	for n := 1; n <= limit; n++ {
		got, err := cloneNext(want, ex)
		if err != nil {
			p.Error = ErrnoName(err)
			return p, n
		}
		if got == want {
			p.Got = got
			return p, n
		}
		if _, err := reap(got); err != nil {
			p.Error = err.Error()
			return p, n
		}
	}
	p.Error = fmt.Sprintf("not handed out after %d processes", limit)
	return p, limit
}

// CycleTree is PlaceTree by PID cycling: it reaches pids[0] by cycling
// and execs self there, and self reaches pids[1:] under itself the same
// way (see CycleTreeChildArg). limit is as for Cycle. It returns the tree
// and the number of processes created in all.
func CycleTree(self string, pids []int, limit int) (Tree, int, error) {
	if len(pids) < 2 {
		return Tree{}, 0, fmt.Errorf("a tree needs at least 2 PIDs, got %d", len(pids))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return Tree{}, 0, fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	argv := []string{"crhook", CycleTreeChildArg, strconv.Itoa(limit)}
	for _, p := range pids[1:] {
		argv = append(argv, strconv.Itoa(p))
	}
	ex, err := newExecArgs(self, argv, []string{"PATH=/usr/bin:/bin"}, int(w.Fd()))
	if err != nil {
		w.Close()
		return Tree{}, 0, err
	}
	start := time.Now()
	parent, forks := cycleOne(pids[0], limit, ex)
	w.Close()
	tree := Tree{Parent: parent}
	if !parent.OK() {
		return tree, forks, nil
	}
	report, readErr := io.ReadAll(io.LimitReader(r, 1<<20))
	status, err := reap(parent.Got)
	tree.Took = time.Since(start)
	if err != nil {
		return tree, forks, err
	}
	if readErr != nil {
		return tree, forks, fmt.Errorf("read cycled tree parent: %w", readErr)
	}
	var children CycledChildren
	if err := json.Unmarshal(report, &children); err != nil {
		return tree, forks, fmt.Errorf("cycled tree parent exited %d: %s", status, strings.TrimSpace(string(report)))
	}
	tree.Children = children.Children
	return tree, forks + children.Forks, nil
}

// RunCycleTreeParent is the parent side of CycleTree: args are LIMIT and
// the PIDs to reach. It prints a CycledChildren as JSON and returns 0
// when every child landed.
func RunCycleTreeParent(args []string, stdout io.Writer) int {
	nums, ok := parsePIDArgs(args, stdout)
	if !ok {
		return 2
	}
	if len(nums) < 2 {
		fmt.Fprintf(stdout, "want LIMIT PID..., got %d numbers", len(nums))
		return 2
	}
	placed, forks, _ := Cycle(nums[1:], nums[0])
	if err := json.NewEncoder(stdout).Encode(CycledChildren{Children: placed, Forks: forks}); err != nil {
		return 1
	}
	if len(placed) != len(nums)-1 || !placed[len(placed)-1].OK() {
		return 1
	}
	return 0
}
