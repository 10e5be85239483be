package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ProcSys is the directory that must stay read-only: writing
// /proc/sys/kernel/ns_last_pid is the PID control crhook does not grant.
const ProcSys = "/proc/sys"

// ProcSysRule names the config rule that keeps /proc/sys read-only, such as
// `linux.readonlyPaths "/proc/sys"`, or returns "" when /proc/sys would be
// writable. Rules at or above /proc/sys count; a rule below it (say
// /proc/sys/kernel) leaves the rest writable and does not.
//
// Runtimes apply mounts in order and readonlyPaths and maskedPaths after
// all mounts, so those two win, and among mounts the last one at or above
// /proc/sys is the one the container sees.
func ProcSysRule(s *specs.Spec) string {
	if s.Linux != nil {
		if p, ok := coveringPath(s.Linux.ReadonlyPaths); ok {
			return "linux.readonlyPaths " + quote(p)
		}
		if p, ok := coveringPath(s.Linux.MaskedPaths); ok {
			return "linux.maskedPaths " + quote(p)
		}
	}
	for i := len(s.Mounts) - 1; i >= 0; i-- {
		m := s.Mounts[i]
		if !covers(m.Destination, ProcSys) {
			continue
		}
		if mountReadOnly(m.Options) {
			return "read-only mount at " + quote(m.Destination)
		}
		return ""
	}
	return ""
}

func coveringPath(paths []string) (string, bool) {
	i := slices.IndexFunc(paths, func(p string) bool { return covers(p, ProcSys) })
	if i < 0 {
		return "", false
	}
	return paths[i], true
}

// covers reports whether the absolute path dir is target or one of its
// ancestors, comparing whole path elements ("/proc" covers "/proc/sys",
// "/pro" does not).
func covers(dir, target string) bool {
	if !strings.HasPrefix(dir, "/") {
		return false
	}
	dir = path.Clean(dir)
	return dir == "/" || dir == target || strings.HasPrefix(target, dir+"/")
}

// mountReadOnly applies mount options in order, as mount(8) does: the last
// of ro/rw wins. "rro" is runc's recursive read-only.
func mountReadOnly(options []string) bool {
	ro := false
	for _, o := range options {
		switch o {
		case "ro", "rro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// procSysWritable is the refusal for a spec with no rule from ProcSysRule;
// consequence says what crhook does about it.
func procSysWritable(consequence string) error {
	return fmt.Errorf("%w: no linux.readonlyPaths or linux.maskedPaths entry and no read-only mount covers it, so %s; "+
		"keep %q in linux.readonlyPaths (with podman, drop --security-opt unmask=%s), or the admin can set proc_sys = %q",
		ErrProcSysWritable, consequence, ProcSys, ProcSys, ProcSysAddReadonly)
}
