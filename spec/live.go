package spec

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/crhook/crhook/internal/proc"
)

// ErrNotHeld and ErrProcSysLive mark what poststart finds wrong with the
// running container.
var (
	ErrNotHeld     = errors.New("the container process does not hold its capabilities")
	ErrProcSysLive = errors.New("/proc/sys is writable in the running container")
)

// LiveProcess is what poststart read from /proc/PID of a container's
// process.
type LiveProcess struct {
	PID    int
	Status proc.Status
	Mounts []*mountinfo.Info
}

// CheckLive decides whether the running process is what its profile
// promised: it holds the capabilities in the sets they must be in, and
// /proc/sys is mounted read-only where it looks.
func CheckLive(p LiveProcess, profile Profile) error {
	pid, status := p.PID, p.Status
	var errs []error
	if gaps := liveGaps(status, profile.Capabilities()); len(gaps) > 0 {
		errs = append(errs, fmt.Errorf("%w: pid %d (uid %d) %s; check that the runtime and kernel know them (runc 1.0+, Linux 5.9+) and that nothing drops them after create",
			ErrNotHeld, pid, status.UID, describeLiveGaps(gaps)))
	}
	if profile == ProfileCheckpoint && status.Seccomp != 0 {
		errs = append(errs, fmt.Errorf("%w: pid %d runs in seccomp mode %d, so criu dump will fail; run the container without a seccomp profile, or the admin can set checkpoint_seccomp = %q",
			ErrSeccompDump, pid, status.Seccomp, CheckpointSeccompRemove))
	}
	switch m := VisibleMount(p.Mounts, ProcSys); {
	case m == nil:
		errs = append(errs, fmt.Errorf("%w: pid %d has no root mount in its mountinfo", ErrProcSysLive, pid))
	case !ReadOnly(m):
		errs = append(errs, fmt.Errorf("%w: pid %d sees %s through the read-write mount at %s; keep %q in linux.readonlyPaths",
			ErrProcSysLive, pid, ProcSys, m.Mountpoint, ProcSys))
	}
	return errors.Join(errs...)
}

// liveGaps returns, per set the process needs them in, the profile's
// capabilities it does not hold.
func liveGaps(status proc.Status, caps []string) []SetGap {
	var gaps []SetGap
	for _, set := range RequiredSets(status.UID) {
		mask, _ := status.Set(string(set))
		var missing []string
		for _, c := range caps {
			if mask&capMask([]string{c}) == 0 {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			gaps = append(gaps, SetGap{Set: set, Missing: missing})
		}
	}
	return gaps
}

// describeLiveGaps says "lacks A, B in bounding, ambient" when every set
// lacks the same capabilities, else lists each set's.
func describeLiveGaps(gaps []SetGap) string {
	sets := make([]string, len(gaps))
	for i, g := range gaps {
		if !slices.Equal(g.Missing, gaps[0].Missing) {
			return describeGaps(gaps)
		}
		sets[i] = string(g.Set)
	}
	return "lacks " + strings.Join(gaps[0].Missing, ", ") + " in " + strings.Join(sets, ", ")
}
