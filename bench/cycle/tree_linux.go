package cycle

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crhook/crhook/internal/probe"
)

// TreeParentArg makes the benchmark program the parent of a cycled tree:
// `PROG TreeParentArg LIMIT PID...` reaches each PID by cycling and
// prints a Children as JSON. A program that calls Tree on itself must
// dispatch it to RunTreeParent first thing in main.
const TreeParentArg = "__crhook-cycle-tree-parent"

// Children is what the parent of a cycled tree reports.
type Children struct {
	Placed []probe.Placement `json:"placed"`
	// Created counts the processes it created, the placed ones included.
	Created int `json:"created"`
}

// Place reaches want by cycling: it advances the allocator to it, then
// lands a child there, which runs ex (exits at once when ex is nil) and
// is left for the caller to reap. last is the PID handed out last, as far
// as the caller knows. limit bounds the children created (one turn of
// the PID space is enough when want is free). It returns the placement
// and the children created.
func Place(want, last, limit int, ex *Exec) (probe.Placement, int) {
	p := probe.Placement{Want: want}
	created := 0
	for created < limit {
		n, err := Advance(want, last, limit-created)
		created += n
		if err != nil {
			p.Error = err.Error()
			return p, created
		}
		got, err := Land(want, ex)
		created++
		if err != nil {
			p.Error = err.Error()
			return p, created
		}
		if got == want {
			p.Got = got
			return p, created
		}
		// A thread of this program took want first: around again.
		if _, err := probe.Reap(got); err != nil {
			p.Error = err.Error()
			return p, created
		}
		last = got
	}
	p.Error = fmt.Sprintf("not handed out after %d processes", limit)
	return p, created
}

// Sequence places each PID of pids in order, reaping each placed child,
// and stops at the first failure.
func Sequence(pids []int, limit int) ([]probe.Placement, int) {
	var out []probe.Placement
	last, err := probe.LastPID()
	if err != nil {
		return []probe.Placement{{Want: pids[0], Error: err.Error()}}, 0
	}
	created := 0
	for _, want := range pids {
		p, n := Place(want, last, limit, nil)
		last = want
		created += n
		if p.OK() {
			if _, err := probe.Reap(p.Got); err != nil {
				p.Error = err.Error()
			}
		}
		out = append(out, p)
		if !p.OK() {
			break
		}
	}
	return out, created
}

// Tree is probe.PlaceTree by cycling: it reaches pids[0] and execs self
// there, and self reaches pids[1:] under itself (see TreeParentArg). It
// returns the tree and the processes created in all.
func Tree(self string, pids []int, limit int) (probe.Tree, int, error) {
	if len(pids) < 2 {
		return probe.Tree{}, 0, fmt.Errorf("a tree needs at least 2 PIDs, got %d", len(pids))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return probe.Tree{}, 0, fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	argv := []string{"crhook-bench", TreeParentArg, strconv.Itoa(limit)}
	for _, p := range pids[1:] {
		argv = append(argv, strconv.Itoa(p))
	}
	ex := &Exec{Path: self, Argv: argv, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: w}
	start := time.Now()
	last, err := probe.LastPID()
	if err != nil {
		w.Close()
		return probe.Tree{}, 0, err
	}
	parent, created := Place(pids[0], last, limit, ex)
	w.Close()
	tree := probe.Tree{Parent: parent}
	if !parent.OK() {
		return tree, created, nil
	}
	report, readErr := io.ReadAll(io.LimitReader(r, 1<<20))
	status, err := probe.Reap(parent.Got)
	tree.Took = time.Since(start)
	if err != nil {
		return tree, created, err
	}
	if readErr != nil {
		return tree, created, fmt.Errorf("read cycled tree parent: %w", readErr)
	}
	var children Children
	if err := json.Unmarshal(report, &children); err != nil {
		return tree, created, fmt.Errorf("cycled tree parent exited %d: %s", status, strings.TrimSpace(string(report)))
	}
	tree.Children = children.Placed
	return tree, created + children.Created, nil
}

// RunTreeParent is the parent side of Tree: args are LIMIT and the PIDs
// to reach. It prints a Children as JSON and returns 0 when every child
// landed.
func RunTreeParent(args []string, stdout io.Writer) int {
	nums := make([]int, 0, len(args))
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintf(stdout, "bad number %q", a)
			return 2
		}
		nums = append(nums, n)
	}
	if len(nums) < 2 {
		fmt.Fprintf(stdout, "want LIMIT PID..., got %d numbers", len(nums))
		return 2
	}
	placed, created := Sequence(nums[1:], nums[0])
	if err := json.NewEncoder(stdout).Encode(Children{Placed: placed, Created: created}); err != nil {
		return 1
	}
	if len(placed) != len(nums)-1 || !placed[len(placed)-1].OK() {
		return 1
	}
	return 0
}
