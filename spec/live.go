package spec

import (
	"errors"
	"fmt"
	"path"
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
	// FilterPending says the container's config installs a seccomp
	// filter, which the runtime may install only after poststart reads
	// the process: crun, with noNewPrivileges, installs it right before
	// exec, after it starts poststart (src/libcrun/container.c), so the
	// live Seccomp can still say 0. Read only for the checkpoint profile.
	FilterPending bool
}

// livePIDNamespace says how the live process's PID namespace is not one
// it created, "" when it is: a container's init is PID 1 of the
// namespace its runtime created (proc.Status.OwnPIDNamespace).
func livePIDNamespace(p LiveProcess) string {
	if p.Status.OwnPIDNamespace() {
		return ""
	}
	if len(p.Status.NSpid) == 0 {
		return fmt.Sprintf("runs pid %d, whose PID namespace cannot be told (no NSpid in its status)", p.PID)
	}
	return fmt.Sprintf("runs pid %d as pid %d of a PID namespace it did not create", p.PID, p.Status.NSpid[len(p.Status.NSpid)-1])
}

// LiveNotes lists, for the log, each admin exception the live
// container's grant relies on.
func LiveNotes(p LiveProcess, req Request) []string {
	var notes []string
	if note, err := checkSharedPID(livePIDNamespace(p), req); err == nil && note != "" {
		notes = append(notes, note)
	}
	if liveFiltered(p, req) && req.CheckpointSeccomp != CheckpointSeccompRefuse {
		notes = append(notes, seccompKeptNote)
	}
	return notes
}

// liveFiltered says the live checkpoint process runs under a seccomp
// filter, or will once the runtime execs it.
func liveFiltered(p LiveProcess, req Request) bool {
	return req.Profile == ProfileCheckpoint && (p.Status.Seccomp != 0 || p.FilterPending)
}

// CheckLive decides whether the running process is what its profile
// promised: it holds the capabilities in the sets they must be in, and
// /proc/sys is mounted read-only where it looks.
func CheckLive(p LiveProcess, req Request) error {
	pid, status, profile := p.PID, p.Status, req.Profile
	var errs []error
	if _, err := checkSharedPID(livePIDNamespace(p), req); err != nil {
		errs = append(errs, err)
	}
	if gaps := liveGaps(status, profile.Capabilities()); len(gaps) > 0 {
		errs = append(errs, fmt.Errorf("%w: pid %d (uid %d) %s; check that the runtime and kernel know them (runc 1.0+, Linux 5.9+) and that nothing drops them after create",
			ErrNotHeld, pid, status.UID, describeLiveGaps(gaps)))
	}
	if liveFiltered(p, req) && req.CheckpointSeccomp == CheckpointSeccompRefuse {
		how := fmt.Sprintf("runs in seccomp mode %d", status.Seccomp)
		if status.Seccomp == 0 {
			how = "gets the seccomp filter of its config (linux.seccomp) when the runtime execs it"
		}
		errs = append(errs, fmt.Errorf("%w: pid %d %s, so criu dump will fail, and the admin's checkpoint_seccomp = %q refuses that; run the container without a seccomp filter",
			ErrSeccompDump, pid, how, CheckpointSeccompRefuse))
	}
	if rootMount(p.Mounts) == nil {
		errs = append(errs, fmt.Errorf("%w: pid %d has no root mount in its mountinfo", ErrProcSysLive, pid))
	} else if problem := WritableProcSys(p.Mounts); problem != "" {
		errs = append(errs, fmt.Errorf("%w: pid %d %s; keep %q in linux.readonlyPaths and mount no procfs or /proc/sys content read-write",
			ErrProcSysLive, pid, problem, ProcSys))
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

// WritableProcSys finds a writable sys in any procfs the process can reach:
// for every proc mount, what is visible at its sys must be read-only, and
// so must every mount below that; a proc mount of sys or part of it must
// be read-only itself. "" when all of it is.
func WritableProcSys(mounts []*mountinfo.Info) string {
	for _, m := range mounts {
		if m.FSType != "proc" {
			continue
		}
		if m.Root == "/sys" || strings.HasPrefix(m.Root, "/sys/") {
			if !ReadOnly(m) {
				return "sees " + describeMount(m) + " is read-write"
			}
			continue
		}
		if m.Root != "/" {
			continue
		}
		sys := path.Join(m.Mountpoint, "sys")
		if v := VisibleMount(mounts, sys); v != nil && v.FSType == "proc" && !ReadOnly(v) && !strings.HasPrefix(v.Root, "/sys/") {
			return fmt.Sprintf("sees a writable sys at %s (mount %d, proc)", quote(sys), v.ID)
		}
		for _, below := range mounts {
			if below.Mountpoint != sys && covers(sys, below.Mountpoint) && !ReadOnly(below) {
				return "sees " + describeMount(below) + " is read-write"
			}
		}
	}
	return ""
}

func describeMount(m *mountinfo.Info) string {
	return fmt.Sprintf("%s (mount %d, %s)", quote(m.Mountpoint), m.ID, quoteName(m.FSType))
}
