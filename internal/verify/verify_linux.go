package verify

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/capability"

	"github.com/crhook/crhook/internal/criuimage"
	"github.com/crhook/crhook/internal/probe"
	"github.com/crhook/crhook/internal/proc"
	"github.com/crhook/crhook/spec"
)

// Options chooses the drill: explicit PIDs (the first is the parent), or
// a tree of Tree processes at free PIDs.
type Options struct {
	PIDs []int
	Tree int
	// Self is crhook's path; the drill's parent process runs it.
	Self string
	// Images, when set, is a CRIU image directory: the report then says
	// whether `criu restore --unprivileged` of that dump can work here.
	Images string
}

// DefaultTree is the drill's size when neither PIDs nor Tree is given.
const DefaultTree = 8

// Run probes the kernel as the calling process and builds the report.
// Its only error is an image directory that cannot be read (bad input).
func Run(opts Options) (Report, error) {
	r := Report{UID: os.Geteuid()}
	var dump *spec.Dump
	if opts.Images != "" {
		// An unreadable directory is bad input: say so before any drill.
		d, err := criuimage.Read(opts.Images)
		if err != nil {
			return r, err
		}
		dump = &d
	}
	r.add(capabilities())
	r.add(seccompClone3())
	if dump != nil {
		// The preflight runs right before criu restore, which places the
		// dump's own PIDs itself: no drill of other PIDs, and no fresh
		// /proc probe, the two checks that start processes.
		r.add(procSys())
		r.add(nsLastPID())
		r.add(mapFiles())
		r.add(noNewPrivs())
		r.add(seccompDump())
		return r.withImages(opts.Images, *dump), nil
	}
	drillCheck := r.drill(opts)
	r.add(drillCheck)
	r.add(procSys())
	r.add(nsLastPID())
	r.add(freshProc(opts.Self))
	r.add(mapFiles())
	r.add(noNewPrivs())
	r.add(seccompDump())
	r.OK = drillCheck.Status == StatusOK
	if r.OK {
		r.Summary = "a process tree can be restored with chosen PIDs here (clone3 set_tid)"
	} else {
		r.Summary = "restore with chosen PIDs will not work here: " + drillCheck.Detail
	}
	return r, nil
}

// withImages adds the restore preflight, whose verdict is the report's:
// it is about this dump, which the drill's PIDs are not.
func (r Report) withImages(dir string, dump spec.Dump) Report {
	restore, check := restorePreflight(dir, dump)
	r.add(check)
	r.Restore = &restore
	r.OK = check.Status == StatusOK
	if r.OK {
		r.Summary = "criu restore --unprivileged of " + dir + " can work here: " + check.Detail
	} else {
		r.Summary = "criu restore --unprivileged of " + dir + " will fail here: " + check.Detail
	}
	return r
}

func (r *Report) add(c Check) { r.Checks = append(r.Checks, c) }

func capabilities() Check {
	c := Check{Name: "capabilities"}
	sets, err := probe.Capabilities(capability.CAP_CHECKPOINT_RESTORE)
	if err != nil {
		c.Status, c.Detail = StatusFail, err.Error()
		return c
	}
	var have, lack []string
	for _, set := range []string{"effective", "permitted", "inheritable", "bounding", "ambient"} {
		if sets[set] {
			have = append(have, set)
		} else {
			lack = append(lack, set)
		}
	}
	switch {
	case sets["effective"]:
		c.Status = StatusOK
		c.Detail = spec.CapCheckpointRestore + " held in " + strings.Join(have, ", ")
		if len(lack) > 0 {
			c.Detail += "; not in " + strings.Join(lack, ", ") + " (a program this one execs loses it)"
		}
	default:
		c.Status = StatusFail
		c.Detail = spec.CapCheckpointRestore + " is not effective"
		if len(have) > 0 {
			c.Detail += " (held only in " + strings.Join(have, ", ") + ")"
		}
		c.Detail += "; opt the container in with crhook"
	}
	return c
}

func seccompClone3() Check {
	c := Check{Name: "seccomp_clone3"}
	switch err := probe.Clone3Seccomp(); {
	case err == nil:
		c.Status, c.Detail = StatusOK, "clone3 reaches the kernel"
	default:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("clone3 fails with %s before the kernel sees it (a seccomp filter; Docker's default returns ENOSYS); let clone3 through with crhook", probe.ErrnoName(err))
	}
	return c
}

func (r *Report) drill(opts Options) Check {
	c := Check{Name: "set_tid"}
	pids, err := drillPIDs(opts)
	if err != nil {
		c.Status, c.Detail = StatusFail, err.Error()
		return c
	}
	if len(pids) == 1 {
		placed, took := probe.Place(pids)
		r.Drill = Drill{Mode: "single", Placements: placed, MicrosPerProcess: perProcess(took.Microseconds(), len(placed))}
		return placementCheck(c, placed)
	}
	tree, err := probe.PlaceTree(opts.Self, pids)
	r.Drill = Drill{Mode: "tree", Parent: &tree.Parent, Placements: tree.Children, MicrosPerProcess: perProcess(tree.Took.Microseconds(), len(pids))}
	if err != nil {
		c.Status, c.Detail = StatusFail, "tree drill: "+err.Error()
		return c
	}
	c = placementCheck(c, append([]probe.Placement{tree.Parent}, tree.Children...))
	if c.Status == StatusOK {
		c.Detail = fmt.Sprintf("placed a tree of %d processes (parent %d, children %s) at the PIDs asked for", len(pids), tree.Parent.Got, pidList(tree.Children))
	}
	return c
}

func placementCheck(c Check, placed []probe.Placement) Check {
	for _, p := range placed {
		if p.OK() {
			continue
		}
		c.Status = StatusFail
		switch p.Error {
		case "EPERM":
			c.Detail = fmt.Sprintf("clone3 set_tid=%d: EPERM (needs %s in the user namespace owning this PID namespace)", p.Want, spec.CapCheckpointRestore)
		case "EEXIST":
			c.Detail = fmt.Sprintf("clone3 set_tid=%d: EEXIST (a process holds that PID)", p.Want)
		case "EINVAL":
			c.Detail = fmt.Sprintf("clone3 set_tid=%d: EINVAL (at or above this namespace's pid_max)", p.Want)
		case "":
			c.Detail = fmt.Sprintf("asked for PID %d, got %d", p.Want, p.Got)
		default:
			c.Detail = fmt.Sprintf("clone3 set_tid=%d: %s", p.Want, p.Error)
		}
		return c
	}
	c.Status = StatusOK
	c.Detail = fmt.Sprintf("placed %d process(es) at %s", len(placed), pidList(placed))
	return c
}

func drillPIDs(opts Options) ([]int, error) {
	if len(opts.PIDs) > 0 {
		return opts.PIDs, nil
	}
	n := opts.Tree
	if n == 0 {
		n = DefaultTree
	}
	pidMax, err := probe.PIDMax()
	if err != nil {
		return nil, err
	}
	return probe.FreePIDs(n, 300, pidMax)
}

func procSys() Check {
	c := Check{Name: "proc_sys_readonly"}
	mounts, err := proc.ReadMounts(os.Getpid())
	if err != nil {
		c.Status, c.Detail = StatusNote, err.Error()
		return c
	}
	m := spec.VisibleMount(mounts, spec.ProcSys)
	switch writable := spec.WritableProcSys(mounts); {
	case m == nil:
		c.Status, c.Detail = StatusNote, "no mount found for /proc/sys"
	case writable != "":
		c.Status, c.Detail = StatusNote, "this process "+writable+": the hardening crhook relies on is missing"
	default:
		c.Status, c.Detail = StatusOK, "/proc/sys is mounted read-only (at "+m.Mountpoint+"), and so is every sys this process can reach"
	}
	return c
}

func nsLastPID() Check {
	c := Check{Name: "ns_last_pid", Status: StatusNote}
	if err := probe.WriteNsLastPID(); err != nil {
		c.Detail = "writing ns_last_pid fails with " + probe.ErrnoName(err) + ": restore must use clone3 set_tid"
		return c
	}
	c.Detail = "ns_last_pid is writable: /proc/sys is not read-only for this process"
	return c
}

func freshProc(self string) Check {
	c := Check{Name: "fresh_proc", Status: StatusNote}
	if err := probe.FreshProc(self); err != nil {
		c.Detail = "a new user+PID namespace with its own /proc fails (" + err.Error() + "): the pre-5.9 workaround is closed here"
		return c
	}
	c.Detail = "a new user+PID namespace with its own /proc works"
	return c
}

func mapFiles() Check {
	c := Check{Name: "map_files"}
	err := probe.MapFiles()
	if err == nil {
		c.Status, c.Detail = StatusOK, "/proc/self/map_files opens"
		return c
	}
	c.Status = StatusNote
	c.Detail = "/proc/self/map_files does not open (" + probe.ErrnoName(err) + ")"
	if initial, _ := probe.InInitialUserNS(); !initial {
		c.Detail += ": it needs " + spec.CapCheckpointRestore + " in the initial user namespace, and this process is in its own user namespace"
	} else {
		c.Detail += ": it needs " + spec.CapCheckpointRestore
	}
	return c
}

// seccompDump says whether criu can dump processes of this container:
// it must suspend a task's seccomp filter to dump it, which needs
// CAP_SYS_ADMIN.
func seccompDump() Check {
	c := Check{Name: "seccomp_dump", Status: StatusNote}
	st, err := proc.ReadStatus(os.Getpid())
	switch {
	case err != nil:
		c.Detail = err.Error()
	case st.Seccomp == 0:
		c.Detail = "no seccomp filter: criu can dump processes here"
	default:
		c.Detail = fmt.Sprintf("seccomp mode %d: criu dump of processes here fails (suspending a filter needs CAP_SYS_ADMIN); dump in a container without a seccomp profile", st.Seccomp)
	}
	return c
}

func noNewPrivs() Check {
	c := Check{Name: "no_new_privs", Status: StatusNote}
	on, err := probe.NoNewPrivs()
	switch {
	case err != nil:
		c.Detail = err.Error()
	case on:
		c.Detail = "set; the capability still survives exec through the ambient set"
	default:
		c.Detail = "not set"
	}
	return c
}

func perProcess(micros int64, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(micros) / float64(n)
}

func pidList(placed []probe.Placement) string {
	parts := make([]string, len(placed))
	for i, p := range placed {
		parts[i] = fmt.Sprint(p.Got)
	}
	return strings.Join(parts, ",")
}
