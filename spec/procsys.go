package spec

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ProcSys is the directory that must stay read-only: writing
// /proc/sys/kernel/ns_last_pid is the PID control crhook does not grant.
const ProcSys = "/proc/sys"

// The rules below are what runc (1.1.5 and 1.5.3) and crun (1.8.1 and
// 1.29) do with a spec; where they differ, crhook takes the weakest
// reading, so a spec it passes keeps /proc/sys read-only under each.
//
//   - Both apply the spec's mounts in order, then maskedPaths and
//     readonlyPaths (runc libcontainer/standard_init_linux.go Init; crun
//     src/libcrun/linux.c libcrun_set_mounts). Among mounts, the last one
//     at or above /proc/sys is what the container sees there.
//   - A readonlyPaths entry is bound onto itself with MS_REC and then
//     remounted read-only without MS_REC (runc rootfs_linux.go
//     readonlyPath; crun 1.8.1 linux.c do_masked_or_readonly_path and its
//     deferred remount). Only the mount the path lands on turns
//     read-only: an entry covers /proc/sys only when no mount lies
//     between it and /proc/sys. "/" never does: the procfs at /proc is a
//     mount of its own, and crun 1.8.1 skips "/" altogether (it opens the
//     path with its leading "/" stripped, and "" is ENOENT to openat2).
//   - A maskedPaths directory gets a read-only tmpfs (crun 1.29: an empty
//     read-only directory) mounted over it, which hides what lies below,
//     mounts included; "/" hides nothing, as the process's root is not
//     reached through a mount stacked on it.
//   - "ro" and "rw": runc takes the last one (specconv parseMountOptions);
//     crun ORs MS_RDONLY in (linux.c get_mount_flags), so ["ro", "rw"] is
//     read-only there and read-write under runc.
//   - "rro" and "rrw" (mount_setattr AT_RECURSIVE) reach the mounts a
//     bind brings along. runc applies them to bind mounts only
//     (rootfs_linux.go setRecAttr), after "ro"; runc 1.5 takes the last
//     of them, runc 1.1 and crun set and clear both. So a trailing "rrw"
//     leaves a mount writable under runc 1.5 whatever came before, and
//     "rro" on a procfs mount is no read-only under runc.
//   - "ro" on a bind is a remount without MS_REC: with rbind, the mounts
//     brought along keep their mode.
//   - A relative destination counts from the container's /, with a
//     warning (runc specconv createLibcontainerMount; crun strips leading
//     slashes).
//   - A bind source is resolved on the host, links followed, when the
//     runtime mounts it (runc: mount(2) or open O_PATH; crun: mount(2) or
//     open_tree), before pivot_root, in a mount namespace that already
//     holds the spec's earlier mounts. So crhook resolves it the same way
//     (Sources) and tells a procfs by its statfs magic, not its name.
//
// Every procfs has its own sys, so a second procfs, or a bind that
// reaches a procfs, would be a /proc/sys that no rule here covers.

// BindSource is what a bind mount's source is on the host, resolved as
// the runtime will resolve it.
type BindSource struct {
	// Path is the source with every link followed.
	Path string
	// Procfs says the source itself is on a procfs.
	Procfs bool
	// ProcfsBelow is the mount point of a procfs at or below Path, which
	// a recursive bind takes along ("" when there is none, or when it was
	// not asked for).
	ProcfsBelow string
}

// Sources resolves bind sources on the host. crhook decides nothing on a
// source it cannot resolve.
type Sources interface {
	// Source resolves a bind source, links followed; recursive asks for
	// BindSource.ProcfsBelow.
	Source(path string, recursive bool) (BindSource, error)
}

// ProcSysRule names the config rule that keeps /proc/sys read-only, such as
// `linux.readonlyPaths "/proc/sys"`, or returns "" when /proc/sys would be
// writable: no rule covers it, or a mount undoes the rule (see
// procSysUndone). Rules at or above /proc/sys count; a rule below it (say
// /proc/sys/kernel) leaves the rest writable and does not.
func ProcSysRule(s *specs.Spec, src Sources) string {
	if procSysUndone(s, src).what != "" {
		return ""
	}
	return procSysCover(s)
}

// procSysCover names what covers /proc/sys itself, or "".
func procSysCover(s *specs.Spec) string {
	if s.Linux != nil {
		if p, ok := firstCovering(s.Linux.ReadonlyPaths, func(p string) bool { return mountBetween(s, p) < 0 }); ok {
			return "linux.readonlyPaths " + quote(p)
		}
		if p, ok := firstCovering(s.Linux.MaskedPaths, func(string) bool { return true }); ok {
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

// firstCovering returns the first of paths at or above /proc/sys,
// other than "/", for which applies holds.
func firstCovering(paths []string, applies func(string) bool) (string, bool) {
	i := slices.IndexFunc(paths, func(p string) bool {
		return covers(p, ProcSys) && path.Clean(p) != "/" && applies(path.Clean(p))
	})
	if i < 0 {
		return "", false
	}
	return paths[i], true
}

// mountBetween returns the index of a mount strictly below dir and at or
// above /proc/sys, which a non-recursive remount of dir does not reach;
// -1 when there is none.
func mountBetween(s *specs.Spec, dir string) int {
	return slices.IndexFunc(s.Mounts, func(m specs.Mount) bool {
		d := destination(m.Destination)
		return d != dir && covers(dir, d) && covers(d, ProcSys)
	})
}

// problem is what leaves some /proc/sys writable, and what to do.
type problem struct {
	what, fix string
}

// fixMount is the fix for a mount that leaves a sys writable.
const fixMount = "make that mount read-only through (\"ro\" without rbind, or \"rro\" on a bind, with no \"rw\" or \"rrw\" after them) or drop it"

// procSysUndone finds the first mount that leaves some /proc/sys writable
// whatever covers /proc/sys: a writable mount at or below it, a second
// procfs, or a bind that reaches a procfs (Sources says what a source
// is). A bind whose source cannot be resolved is one crhook cannot judge,
// and counts too. The zero problem when there is none.
func procSysUndone(s *specs.Spec, src Sources) problem {
	// where is for the message only: a spec can have thousands of mounts.
	where := func(i int) string { return fmt.Sprintf("%s (mounts[%d])", quote(s.Mounts[i].Destination), i) }
	root := rootResolver(s, src)
	for i, m := range s.Mounts {
		dest := destination(m.Destination)
		switch {
		case covers(ProcSys, dest) && !readOnlyThrough(m):
			return problem{"a read-write mount at " + where(i) + " stays writable at or below /proc/sys", fixMount}
		case m.Type == "proc" && !isBind(m) && dest != "/proc" && !readOnlyThrough(m):
			return problem{"a second procfs at " + where(i) + " has a writable sys of its own", fixMount}
		case isBind(m) && !readOnlyThrough(m):
			if p := bindReachesProcfs(s, i, src, root); p.what != "" {
				p.what = fmt.Sprintf(p.what, where(i))
				return p
			}
		}
	}
	return problem{}
}

// bindReachesProcfs judges the writable bind s.Mounts[i]: its source,
// resolved on the host, must not be on a procfs nor, with rbind, have one
// mounted below it, and must not lie where an earlier mount of the spec
// lands in the container's root, which the runtime has mounted by then.
// The problem's what has a %s for where the mount is.
func bindReachesProcfs(s *specs.Spec, i int, src Sources, root func() (string, bool)) problem {
	m := s.Mounts[i]
	recursive := slices.Contains(m.Options, "rbind")
	if src == nil {
		return problem{"the bind at %s has a source crhook was given no way to resolve", "report this as a crhook bug"}
	}
	b, err := src.Source(m.Source, recursive)
	if err != nil {
		return problem{fmt.Sprintf("the bind at %%s has source %s, which cannot be resolved on the host (%v), so crhook cannot tell what it reaches", quote(m.Source), err),
			"make its source an existing absolute path"}
	}
	switch {
	case b.Procfs:
		return problem{fmt.Sprintf("the bind at %%s has source %s, which resolves to %s on a procfs, with a writable sys", quote(m.Source), quote(b.Path)), fixMount}
	case b.ProcfsBelow != "":
		return problem{fmt.Sprintf("the rbind at %%s has source %s, which takes along the procfs at %s, with a writable sys", quote(m.Source), quote(b.ProcfsBelow)), fixMount}
	}
	if j := earlierMountAt(s, i, b.Path, recursive, root); j >= 0 {
		return problem{fmt.Sprintf("the bind at %%s has source %s in the container's root, where the runtime has mounted %s (mounts[%d]) by then, which crhook cannot see from the host",
			quote(m.Source), quote(s.Mounts[j].Destination), j), "bind that mount's own source instead, or make this one read-only through"}
	}
	return problem{}
}

// rootResolver returns the container's root resolved on the host, asked
// of src once, on the first call; false when the spec names no root or
// it cannot be resolved (the runtime cannot start a container then).
func rootResolver(s *specs.Spec, src Sources) func() (string, bool) {
	var root string
	var ok, asked bool
	return func() (string, bool) {
		if !asked && s.Root != nil && s.Root.Path != "" && src != nil {
			b, err := src.Source(s.Root.Path, false)
			root, ok = b.Path, err == nil
		}
		asked = true
		return root, ok
	}
}

// earlierMountAt returns the index of a mount before i whose destination
// holds source, a path in the container's root, or, for a recursive
// bind, lies below it; -1 when source is not in the root or meets none.
func earlierMountAt(s *specs.Spec, i int, source string, recursive bool, root func() (string, bool)) int {
	rootPath, ok := root()
	if !ok {
		return -1
	}
	rel, err := filepath.Rel(rootPath, source)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return -1
	}
	inRoot := path.Join("/", rel)
	return slices.IndexFunc(s.Mounts[:i], func(m specs.Mount) bool {
		d := destination(m.Destination)
		return covers(d, inRoot) || (recursive && covers(inRoot, d))
	})
}

// destination is a mount destination as runc resolves it: relative ones
// from the container's /, cleaned.
func destination(d string) string {
	if !strings.HasPrefix(d, "/") {
		d = "/" + d
	}
	return path.Clean(d)
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// readOnlyThrough reports whether a mount is read-only, and so is every
// mount it brings along, under every runtime: "rro" on a bind as the
// last of rro/rrw, or a read-only mount that brings none along.
func readOnlyThrough(m specs.Mount) bool {
	if lastOf(m.Options, "rro", "rrw") == "rro" && isBind(m) {
		return true
	}
	return readOnlyTop(m) && !slices.Contains(m.Options, "rbind")
}

// readOnlyTop reports whether the mount itself is read-only under every
// runtime: no "rrw" after the last "rro" (runc 1.5 clears recursively
// after the "ro" remount), and then "rro" on a bind, or "ro" as the last
// of ro/rw (runc takes the last; crun ORs them, which is no weaker).
func readOnlyTop(m specs.Mount) bool {
	switch lastOf(m.Options, "rro", "rrw") {
	case "rrw":
		return false
	case "rro":
		if isBind(m) {
			return true
		}
	}
	return lastOf(m.Options, "ro", "rw") == "ro"
}

// lastOf returns whichever of a and b comes last in options, "" when
// neither is there.
func lastOf(options []string, a, b string) string {
	for i := len(options) - 1; i >= 0; i-- {
		if options[i] == a || options[i] == b {
			return options[i]
		}
	}
	return ""
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

// procSysRefusal is the refusal for a spec whose /proc/sys would be
// writable; consequence says what crhook does about it.
func procSysRefusal(s *specs.Spec, src Sources, consequence string) error {
	if p := procSysUndone(s, src); p.what != "" {
		return fmt.Errorf("%w: %s, so %s; %s", ErrProcSysWritable, p.what, consequence, p.fix)
	}
	return fmt.Errorf("%w: no linux.readonlyPaths or linux.maskedPaths entry and no read-only mount covers it%s, so %s; "+
		"keep %q in linux.readonlyPaths (with podman, drop --security-opt unmask=%s), or the admin can set proc_sys = %q",
		ErrProcSysWritable, notCovering(s), consequence, ProcSys, ProcSys, ProcSysAddReadonly)
}

// notCovering explains the first readonlyPaths entry above /proc/sys
// that does not cover it, for the refusal; "" when there is none.
func notCovering(s *specs.Spec) string {
	if s.Linux == nil {
		return ""
	}
	for _, p := range s.Linux.ReadonlyPaths {
		if !covers(p, ProcSys) || path.Clean(p) == ProcSys {
			continue
		}
		if j := mountBetween(s, path.Clean(p)); j >= 0 {
			return fmt.Sprintf(" (linux.readonlyPaths %s turns read-only without the mount at %s below it)", quote(p), quote(s.Mounts[j].Destination))
		}
		if path.Clean(p) == "/" {
			return fmt.Sprintf(" (linux.readonlyPaths %s does not count: crun skips it)", quote(p))
		}
	}
	return ""
}
