package spec

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CapSet names one of a process's capability sets, spelled as in
// config.json.
type CapSet string

const (
	Bounding    CapSet = "bounding"
	Effective   CapSet = "effective"
	Permitted   CapSet = "permitted"
	Inheritable CapSet = "inheritable"
	Ambient     CapSet = "ambient"
)

// RequiredSets returns the sets a capability must be in to still be held
// after the runtime execs the container process as uid. Root regains its
// permitted set at exec; any other user keeps a capability only through
// the ambient set, which in turn needs it inheritable and permitted.
func RequiredSets(uid uint32) []CapSet {
	if uid == 0 {
		return []CapSet{Bounding, Effective, Permitted}
	}
	return []CapSet{Bounding, Effective, Permitted, Inheritable, Ambient}
}

// SetGap is a capability set and the capabilities it lacks.
type SetGap struct {
	Set     CapSet
	Missing []string
}

// MissingCapabilities returns, in RequiredSets order, each set of c that
// lacks one of caps for a process running as uid. c may be nil.
func MissingCapabilities(c *specs.LinuxCapabilities, uid uint32, caps []string) []SetGap {
	var gaps []SetGap
	for _, set := range RequiredSets(uid) {
		have := setOf(c, set)
		var missing []string
		for _, name := range caps {
			if !slices.ContainsFunc(have, func(h string) bool { return sameCap(h, name) }) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			gaps = append(gaps, SetGap{Set: set, Missing: missing})
		}
	}
	return gaps
}

func setOf(c *specs.LinuxCapabilities, set CapSet) []string {
	if c == nil {
		return nil
	}
	switch set {
	case Bounding:
		return c.Bounding
	case Effective:
		return c.Effective
	case Permitted:
		return c.Permitted
	case Inheritable:
		return c.Inheritable
	case Ambient:
		return c.Ambient
	}
	return nil
}

// sameCap compares capability names the way runc takes them: it looks a
// name up exactly, as "CAP_" plus the upper-case name, and ignores any
// other spelling (libcontainer/capabilities, capabilityMap), so
// "cap_checkpoint_restore" grants nothing and must not count.
func sameCap(a, b string) bool {
	return a == b
}

// describeAdded renders gaps as what was added, grouped by capability:
// "CAP_CHECKPOINT_RESTORE to bounding, effective; CAP_SETPCAP to ambient".
func describeAdded(gaps []SetGap) string {
	var caps []string
	sets := map[string][]string{}
	for _, g := range gaps {
		for _, c := range g.Missing {
			if _, ok := sets[c]; !ok {
				caps = append(caps, c)
			}
			sets[c] = append(sets[c], string(g.Set))
		}
	}
	parts := make([]string, len(caps))
	for i, c := range caps {
		parts[i] = c + " to " + strings.Join(sets[c], ", ")
	}
	return strings.Join(parts, "; ")
}

// describeGaps renders for a one-line error, e.g.
// "ambient lacks CAP_CHECKPOINT_RESTORE; inheritable lacks ...".
func describeGaps(gaps []SetGap) string {
	parts := make([]string, len(gaps))
	for i, g := range gaps {
		parts[i] = string(g.Set) + " lacks " + strings.Join(g.Missing, ",")
	}
	return strings.Join(parts, "; ")
}
