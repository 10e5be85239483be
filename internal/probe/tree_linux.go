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

// TreeChildArg is the argument that makes crhook the parent of a drill
// tree: `crhook TreeChildArg PID...` places one child at each PID and
// prints the placements as JSON.
const TreeChildArg = "__crhook-tree-parent"

// Tree is a drill: a parent placed at a chosen PID, which in turn places
// its children at chosen PIDs, the order in which CRIU restores a tree.
type Tree struct {
	Parent   Placement   `json:"parent"`
	Children []Placement `json:"children"`
	// Took covers the whole tree, exec of the parent included.
	Took time.Duration `json:"-"`
}

// OK reports whether every process got its PID.
func (t Tree) OK() bool {
	if !t.Parent.OK() || len(t.Children) == 0 {
		return false
	}
	for _, c := range t.Children {
		if !c.OK() {
			return false
		}
	}
	return true
}

// PlaceTree places self (crhook) at pids[0] and has it place pids[1:]
// under itself.
func PlaceTree(self string, pids []int) (Tree, error) {
	if len(pids) < 2 {
		return Tree{}, fmt.Errorf("a tree needs at least 2 PIDs, got %d", len(pids))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return Tree{}, fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	argv := []string{"crhook", TreeChildArg}
	for _, p := range pids[1:] {
		argv = append(argv, strconv.Itoa(p))
	}
	ex, err := newExecArgs(self, argv, []string{"PATH=/usr/bin:/bin"}, int(w.Fd()))
	if err != nil {
		w.Close()
		return Tree{}, err
	}
	start := time.Now()
	tree := Tree{Parent: Placement{Want: pids[0]}}
	got, err := cloneAt(pids[0], ex)
	w.Close()
	if err != nil {
		tree.Parent.Error = ErrnoName(err)
		return tree, nil
	}
	tree.Parent.Got = got
	report, readErr := io.ReadAll(io.LimitReader(r, 1<<20))
	status, err := Reap(got)
	tree.Took = time.Since(start)
	if err != nil {
		return tree, err
	}
	if readErr != nil {
		return tree, fmt.Errorf("read tree parent: %w", readErr)
	}
	if err := json.Unmarshal(report, &tree.Children); err != nil {
		return tree, fmt.Errorf("tree parent exited %d: %s", status, strings.TrimSpace(string(report)))
	}
	return tree, nil
}

// RunTreeParent is the parent side: place children at the PIDs in args,
// print the placements as JSON and exit 0 when all landed.
func RunTreeParent(args []string, stdout io.Writer) int {
	pids, ok := parsePIDArgs(args, stdout)
	if !ok {
		return 2
	}
	placed, _ := Place(pids)
	if err := json.NewEncoder(stdout).Encode(placed); err != nil {
		return 1
	}
	if len(placed) != len(pids) || !placed[len(placed)-1].OK() {
		return 1
	}
	return 0
}
