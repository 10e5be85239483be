package hostpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/spec"
)

// Resolver resolves bind sources in this process's mount namespace,
// which is the runtime's: hooks and the runtime shim run there.
type Resolver struct {
	// Base is where a relative path starts: the bundle, which is the
	// runtime's working directory. "" refuses relative paths.
	Base string
	// procMounts are this namespace's procfs mounts, read once, on the
	// first recursive source.
	procMounts []*mountinfo.Info
	read       bool
}

var _ spec.Sources = (*Resolver)(nil)

// Source resolves p, links followed, and tells whether it is on a procfs
// and, when recursive, whether a procfs is mounted at or below it.
func (r *Resolver) Source(p string, recursive bool) (spec.BindSource, error) {
	if !filepath.IsAbs(p) {
		if r.Base == "" {
			return spec.BindSource{}, errors.New("a relative path, and no bundle to start from")
		}
		p = filepath.Join(r.Base, p)
	}
	fd, real, err := open(p)
	if err != nil {
		return spec.BindSource{}, err
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return spec.BindSource{}, &os.PathError{Op: "statfs", Path: p, Err: err}
	}
	b := spec.BindSource{Path: real, Procfs: fs.Type == unix.PROC_SUPER_MAGIC}
	// Only a directory has mounts below it: the files engines bind
	// (resolv.conf, hosts) cost no read of the mount table. Once it is
	// read, a file is looked up too (no mount lies below one), which
	// spares a stat per bind of a spec with thousands.
	if recursive && !b.Procfs && (r.read || isDir(fd)) {
		if b.ProcfsBelow, err = r.procfsBelow(real); err != nil {
			return spec.BindSource{}, err
		}
	}
	return b, nil
}

// open opens absolute path p with O_PATH, every link followed, as
// mount(2) and the runtimes' opens do (O_PATH opens a FIFO or a device
// without acting on it), and returns where it led.
func open(p string) (fd int, real string, err error) {
	// Most sources hold no link: then the path, cleaned, is where it
	// leads, and the kernel's name for it need not be read back.
	fd, err = unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err == nil {
		return fd, filepath.Clean(p), nil
	}
	// A link on the way (ELOOP), or no openat2 (before Linux 5.6, or a
	// seccomp filter): follow every link and ask the kernel where.
	fd, err = unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", &os.PathError{Op: "open", Path: p, Err: err}
	}
	real, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("resolve %s: %w", p, err)
	}
	return fd, real, nil
}

func isDir(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// procfsBelow returns the mount point of a procfs at or below dir, "" when
// there is none.
func (r *Resolver) procfsBelow(dir string) (string, error) {
	if !r.read {
		mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("proc"))
		if err != nil {
			return "", fmt.Errorf("read this mount namespace's mounts: %w", err)
		}
		r.procMounts, r.read = mounts, true
	}
	for _, m := range r.procMounts {
		if dir == "/" || covers(dir, m.Mountpoint) {
			return m.Mountpoint, nil
		}
	}
	return "", nil
}

// covers tells whether path is dir or below it, allocating nothing: it
// runs for every procfs mount with every recursive bind of a spec.
func covers(dir, path string) bool {
	rest, ok := strings.CutPrefix(path, dir)
	return ok && (rest == "" || rest[0] == '/')
}
