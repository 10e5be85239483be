package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrOthersCanWrite marks a path that a user other than root can change.
var ErrOthersCanWrite = errors.New("a user other than root can change it")

// OnlyRootCanChange checks the directory name beneath d, links resolved,
// and every directory above it up to d's own: each must be owned by root
// and writable by no group or other user, or whoever can write one of
// them can swap what lies below. A root-owned sticky directory above
// (such as /tmp) is allowed, as others cannot rename root's entries in
// it; the directory itself may not be one, as others could add to it.
func (d *Dir) OnlyRootCanChange(name string) error {
	return d.onlyRootAbove(name, true)
}

// OnlyRootCanChangeFile checks the regular file name beneath d, links
// followed: it must be owned by root and writable by no group or other
// user, and the directory that really holds it must pass
// OnlyRootCanChange.
func (d *Dir) OnlyRootCanChangeFile(name string) error {
	fd, err := d.open(name, unix.O_PATH, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: d.join(name), Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s: not a regular file", d.join(name))
	case st.Uid != 0:
		return fmt.Errorf("%s is owned by uid %d: %w", d.join(name), st.Uid, ErrOthersCanWrite)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s has mode %04o: %w", d.join(name), st.Mode&0o7777, ErrOthersCanWrite)
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Errorf("resolve %s: %w", d.join(name), err)
	}
	rel, err := filepath.Rel(d.real, filepath.Dir(real))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return &os.PathError{Op: "resolve", Path: d.join(name), Err: ErrOutside}
	}
	return d.OnlyRootCanChange(rel)
}

// OnlyRootCanCreate is OnlyRootCanChange for a directory that may not
// exist yet: MkdirAll makes what is missing root's, so the deepest
// directory that exists is checked as one above it.
func (d *Dir) OnlyRootCanCreate(name string) error {
	for p := relative(name); ; p = filepath.Dir(p) {
		fd, err := d.open(p, unix.O_PATH|unix.O_DIRECTORY, 0)
		if errors.Is(err, os.ErrNotExist) && p != "." {
			continue
		}
		if err != nil {
			return err
		}
		unix.Close(fd)
		return d.onlyRootAbove(p, p == relative(name))
	}
}

func (d *Dir) onlyRootAbove(name string, isTarget bool) error {
	fd, err := d.open(name, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", d.join(name), err)
	}
	rel, err := filepath.Rel(d.real, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return &os.PathError{Op: "resolve", Path: d.join(name), Err: ErrOutside}
	}
	// From name up to d: the resolved path has no links left, so each
	// prefix is the directory it names.
	for p := rel; ; p, isTarget = filepath.Dir(p), false {
		if err := d.rootOnly(p, isTarget); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
	}
}

// rootOnly checks one directory, p beneath d, for OnlyRootCanChange.
func (d *Dir) rootOnly(p string, isTarget bool) error {
	fd, err := unix.Openat2(d.fd, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: d.resolve | unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return &os.PathError{Op: "open", Path: d.join(p), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: d.join(p), Err: err}
	}
	sticky := st.Mode&unix.S_ISVTX != 0 && !isTarget
	switch {
	case st.Uid != 0:
		return fmt.Errorf("%s is owned by uid %d: %w", d.join(p), st.Uid, ErrOthersCanWrite)
	case st.Mode&0o022 != 0 && !sticky:
		return fmt.Errorf("%s has mode %04o: %w", d.join(p), st.Mode&0o7777, ErrOthersCanWrite)
	}
	return nil
}

// WriteRootFile replaces name beneath d with a new file holding data,
// owned by root:root with exactly perm, whatever was there: a link at
// name is replaced, not followed, and the old file's owner and mode are
// not kept. The directory holding name must pass OnlyRootCanChange. It is
// for programs every container start runs as root.
func (d *Dir) WriteRootFile(name string, data []byte, perm os.FileMode) error {
	parent, base, err := d.parent(name)
	if err != nil {
		return fmt.Errorf("write %s: %w", d.join(name), err)
	}
	defer unix.Close(parent)
	if err := d.OnlyRootCanChange(filepath.Dir(relative(name))); err != nil {
		return fmt.Errorf("write %s: %w", d.join(name), err)
	}
	return replaceIn(parent, base, d.join(name), data, perm, 0, 0, true)
}

// IsRootFile reports whether name, not followed if it is a link, is a
// regular file owned by root:root with exactly perm.
func (d *Dir) IsRootFile(name string, perm os.FileMode) bool {
	parent, base, err := d.parent(name)
	if err != nil {
		return false
	}
	defer unix.Close(parent)
	var st unix.Stat_t
	return unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		st.Mode&unix.S_IFMT == unix.S_IFREG && os.FileMode(st.Mode&0o7777) == perm && st.Uid == 0 && st.Gid == 0
}
