package spec

import (
	"path"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// VisibleMount returns the mount a process sees at target, given its
// mountinfo: start at the root mount and keep descending into the child
// mounted deepest on the way to target. A child mounted later on the same
// point covers the earlier one, and its parent is the one it covers, so
// stacks resolve the same way. It returns nil when mounts has no root.
func VisibleMount(mounts []*mountinfo.Info, target string) *mountinfo.Info {
	target = path.Clean(target)
	current := rootMount(mounts)
	// The parent links come from the input. The kernel's form a tree, but
	// crafted text can make them a cycle (1's parent is 2, 2's is 1), and
	// following one would never end. Each mount ID is entered at most once,
	// so the walk ends after len(mounts) steps on any input.
	entered := map[int]bool{}
	for current != nil {
		entered[current.ID] = true
		var next *mountinfo.Info
		for _, m := range mounts {
			if m.Parent != current.ID || entered[m.ID] || !covers(m.Mountpoint, target) {
				continue
			}
			if next == nil || len(m.Mountpoint) >= len(next.Mountpoint) {
				next = m
			}
		}
		if next == nil {
			return current
		}
		current = next
	}
	return nil
}

// rootMount is the "/" mount whose parent lies outside the list (the
// process's root after pivot_root), else the first "/" mount.
func rootMount(mounts []*mountinfo.Info) *mountinfo.Info {
	var first *mountinfo.Info
	for _, m := range mounts {
		if m.Mountpoint != "/" {
			continue
		}
		if !hasID(mounts, m.Parent) {
			return m
		}
		if first == nil {
			first = m
		}
	}
	return first
}

func hasID(mounts []*mountinfo.Info, id int) bool {
	return slices.ContainsFunc(mounts, func(m *mountinfo.Info) bool { return m.ID == id })
}

// ReadOnly reports whether the mount itself is read-only (per-mount "ro",
// not the superblock's options, which a read-only bind does not change).
func ReadOnly(m *mountinfo.Info) bool {
	return slices.Contains(strings.Split(m.Options, ","), "ro")
}
