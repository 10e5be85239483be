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

// The rules below are runc's (v1.1, and main where it agrees):
//
//   - runc applies the spec's mounts in order, then readonlyPaths, then
//     maskedPaths (libcontainer/standard_init_linux.go Init). So those two
//     win over any mount, and among mounts the last one at or above
//     /proc/sys is what the container sees there.
//   - readonlyPath bind-mounts a path onto itself with MS_REC and then
//     remounts it read-only without MS_REC (rootfs_linux.go readonlyPath):
//     a mount below /proc/sys keeps its own mode.
//   - "ro" on a bind mount is the same non-recursive remount; only "rro"
//     (runc 1.1+, mount_setattr AT_RECURSIVE) reaches the mounts an rbind
//     brings along (specconv parseMountOptions, rootfs_linux.go
//     mountToRootfs).
//   - A relative destination is taken as relative to the container's /
//     with a warning (specconv createLibcontainerMount).
//
// Every procfs has its own sys, so a second procfs, or a bind of the
// host's /proc, would be a /proc/sys that no rule here covers.

// ProcSysRule names the config rule that keeps /proc/sys read-only, such as
// `linux.readonlyPaths "/proc/sys"`, or returns "" when /proc/sys would be
// writable: no rule covers it, or a mount undoes the rule (see
// procSysUndone). Rules at or above /proc/sys count; a rule below it (say
// /proc/sys/kernel) leaves the rest writable and does not.
func ProcSysRule(s *specs.Spec) string {
	if procSysUndone(s) != "" {
		return ""
	}
	return procSysCover(s)
}

// procSysCover names what covers /proc/sys itself, or "".
func procSysCover(s *specs.Spec) string {
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
		if !covers(destination(m.Destination), ProcSys) {
			continue
		}
		if readOnlyThrough(m) {
			return "read-only mount at " + quote(m.Destination)
		}
		return ""
	}
	return ""
}

// procSysUndone names the first mount that leaves some /proc/sys writable
// whatever covers /proc/sys: a writable mount at or below it, a second
// procfs, or a bind of the host's procfs. "" when there is none.
func procSysUndone(s *specs.Spec) string {
	// where is for the message only: a spec can have thousands of mounts.
	where := func(i int) string { return fmt.Sprintf("%s (mounts[%d])", quote(s.Mounts[i].Destination), i) }
	for i, m := range s.Mounts {
		dest := destination(m.Destination)
		switch {
		case covers(ProcSys, dest) && !readOnlyThrough(m):
			return "a read-write mount at " + where(i) + " stays writable at or below /proc/sys"
		case m.Type == "proc" && dest != "/proc" && !readOnlyThrough(m):
			return "a second procfs at " + where(i) + " has a writable sys of its own"
		case isBind(m) && procSource(m.Source) && !readOnlyThrough(m):
			return "the host's " + quote(m.Source) + " bound at " + where(i) + " has a writable sys"
		}
	}
	return ""
}

// destination is a mount destination as runc resolves it: relative ones
// from the container's /, cleaned.
func destination(d string) string {
	if !strings.HasPrefix(d, "/") {
		d = "/" + d
	}
	return path.Clean(d)
}

// procSource reports whether a bind source is the host's procfs or in it.
func procSource(src string) bool {
	return strings.HasPrefix(src, "/") && covers("/proc", path.Clean(src))
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// readOnlyThrough reports whether a mount is read-only all the way down:
// "rro", or "ro" (the last of ro/rw, as mount(8) applies them) on a mount
// that brings no others along, which an rbind does.
func readOnlyThrough(m specs.Mount) bool {
	if slices.Contains(m.Options, "rro") {
		return true
	}
	return mountReadOnly(m.Options) && !slices.Contains(m.Options, "rbind")
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
// of ro/rw wins.
func mountReadOnly(options []string) bool {
	ro := false
	for _, o := range options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// procSysRefusal is the refusal for a spec whose /proc/sys would be
// writable; consequence says what crhook does about it.
func procSysRefusal(s *specs.Spec, consequence string) error {
	if undone := procSysUndone(s); undone != "" {
		return fmt.Errorf("%w: %s, so %s; make that mount read-only (\"ro\", or \"rro\" with rbind) or drop it",
			ErrProcSysWritable, undone, consequence)
	}
	return fmt.Errorf("%w: no linux.readonlyPaths or linux.maskedPaths entry and no read-only mount covers it, so %s; "+
		"keep %q in linux.readonlyPaths (with podman, drop --security-opt unmask=%s), or the admin can set proc_sys = %q",
		ErrProcSysWritable, consequence, ProcSys, ProcSys, ProcSysAddReadonly)
}
