package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/boundedio"
)

// ErrOutside marks a path that leads out of its Dir (a symlink or ".."
// pointing beyond it).
var ErrOutside = errors.New("leads outside its directory")

// Dir is a directory opened once. Every file crhook reads, writes, links
// or removes under it is reached from this one file descriptor with
// openat2, so a symlink or ".." can never take it elsewhere, and a path
// swapped between two steps cannot redirect the second: the lock, the
// read and the write all see the same directory.
type Dir struct {
	fd   int
	path string
	// real is where the directory really is (links in path resolved), to
	// which a resolved file's path is compared.
	real string
	// resolve is RESOLVE_BENEATH (a bundle: a way out is refused) or
	// RESOLVE_IN_ROOT (a host root: absolute links resolve inside it).
	resolve uint64
}

// OpenDir opens path as a directory that nothing beneath may leave.
func OpenDir(path string) (*Dir, error) {
	return openDir(path, unix.RESOLVE_BENEATH)
}

// OpenRoot opens path as a root: links beneath it, absolute ones too,
// resolve inside it, as they would for a process chrooted there. It is
// how crhook reaches a host's files from a pod (install --host-root).
func OpenRoot(path string) (*Dir, error) {
	return openDir(path, unix.RESOLVE_IN_ROOT)
}

func openDir(path string, resolve uint64) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// O_DIRECTORY: a FIFO named as the directory (say a hostile --bundle)
	// fails at once with ENOTDIR; a plain open would block on it.
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: abs, Err: err}
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	return &Dir{fd: fd, path: abs, real: real, resolve: resolve | unix.RESOLVE_NO_MAGICLINKS}, nil
}

// Path is the directory's absolute path, for messages.
func (d *Dir) Path() string { return d.path }

// Close releases the directory, and its lock with it.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// Lock takes an exclusive flock on the directory, waiting for other
// crhook writers. A directory keeps its inode across the renames
// WriteFile does, so it is a stable lock; Close releases it.
func (d *Dir) Lock() error {
	for {
		err := unix.Flock(d.fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("lock %s: %w", d.path, err)
			}
			return nil
		}
	}
}

// open opens name beneath d.
func (d *Dir) open(name string, flags uint64, mode uint32) (int, error) {
	fd, err := unix.Openat2(d.fd, relative(name), &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: uint64(mode), Resolve: d.resolve})
	if errors.Is(err, unix.EXDEV) {
		return -1, &os.PathError{Op: "open", Path: d.join(name), Err: ErrOutside}
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	return fd, nil
}

// relative turns name into a path openat2 takes from the directory fd:
// in a root, "/etc/x" means the root's etc.
func relative(name string) string {
	name = strings.TrimLeft(filepath.Clean("/"+name), "/")
	if name == "" {
		return "."
	}
	return name
}

func (d *Dir) join(name string) string { return filepath.Join(d.path, relative(name)) }

// ReadFile reads the regular file name beneath d, at most limit bytes.
// It opens with O_NONBLOCK, so a FIFO cannot block the open, and refuses
// anything but a regular file.
func (d *Dir) ReadFile(name string, limit int64) ([]byte, error) {
	fd, err := d.open(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return boundedio.ReadOpen(os.NewFile(uintptr(fd), d.join(name)), limit)
}

// IsRegular reports whether name, links followed beneath d, is a
// regular file.
func (d *Dir) IsRegular(name string) bool {
	fd, err := d.open(name, unix.O_PATH, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}

// Readlink returns the target of the symbolic link name.
func (d *Dir) Readlink(name string) (string, error) {
	parent, base, err := d.parent(name)
	if err != nil {
		return "", err
	}
	defer unix.Close(parent)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(parent, base, buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: d.join(name), Err: err}
	}
	return string(buf[:n]), nil
}

// parent opens the directory holding name, beneath d, and returns it
// with name's last element.
func (d *Dir) parent(name string) (fd int, base string, err error) {
	rel := relative(name)
	if rel == "." {
		return -1, "", fmt.Errorf("%s: not a file name", d.join(name))
	}
	fd, err = d.open(filepath.Dir(rel), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	return fd, filepath.Base(rel), err
}

// target resolves name, through any links, to the file it names beneath
// d: a link leading out is refused. A missing file is its own target.
func (d *Dir) target(name string) (string, error) {
	fd, err := d.open(name, unix.O_PATH, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return relative(name), nil
	}
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", d.join(name), err)
	}
	rel, err := filepath.Rel(d.real, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &os.PathError{Op: "resolve", Path: d.join(name), Err: ErrOutside}
	}
	return rel, nil
}

// WriteFile replaces name beneath d with data. A link is followed and
// kept: its target, which must lie beneath d, gets the new content. An
// existing file keeps its mode and owner; a new one gets perm. The data
// goes to an unnamed O_TMPFILE in the target's directory, is synced, and
// only then gets a name and is renamed over the target, so a process
// killed on the way leaves nothing behind.
func (d *Dir) WriteFile(name string, data []byte, perm os.FileMode) error {
	return d.writeFile(name, data, perm, -1, -1, true, true)
}

// WriteStateFile is WriteFile for a file that lives no longer than the
// boot, such as the config.json of a bundle the engine is about to start:
// as atomic, but not synced to disk. A reader still sees the old content
// or the new, whole; after a crash the engine makes its bundles again.
// It spares every container start two disk round trips.
func (d *Dir) WriteStateFile(name string, data []byte, perm os.FileMode) error {
	return d.writeFile(name, data, perm, -1, -1, true, false)
}

// WriteFileAs is WriteFile giving the file exactly perm, uid and gid,
// whatever the old one had: for putting back a file as it was.
func (d *Dir) WriteFileAs(name string, data []byte, perm os.FileMode, uid, gid int) error {
	return d.writeFile(name, data, perm, uid, gid, false, true)
}

func (d *Dir) writeFile(name string, data []byte, mode os.FileMode, uid, gid int, keep, durable bool) error {
	rel, err := d.target(name)
	if err != nil {
		return fmt.Errorf("write %s: %w", d.join(name), err)
	}
	parent, base, err := d.parent(rel)
	if err != nil {
		return fmt.Errorf("write %s: %w", d.join(name), err)
	}
	defer unix.Close(parent)
	where := d.join(rel)
	var st unix.Stat_t
	switch err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("write %s: a link to a file that does not exist; create the file or remove the link", where)
	case err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("write %s: not a regular file", where)
	case err == nil && keep:
		mode, uid, gid = os.FileMode(st.Mode&0o7777).Perm(), int(st.Uid), int(st.Gid)
	case err != nil && !errors.Is(err, unix.ENOENT):
		return fmt.Errorf("write %s: %w", where, err)
	}
	return replaceIn(parent, base, where, data, mode, uid, gid, durable)
}

// Stat returns name's mode bits, owner and group, links followed beneath
// d; ok is false when there is no such file.
func (d *Dir) Stat(name string) (mode os.FileMode, uid, gid int, ok bool, err error) {
	fd, err := d.open(name, unix.O_PATH, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, 0, false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, 0, false, &os.PathError{Op: "stat", Path: d.join(name), Err: err}
	}
	return os.FileMode(st.Mode & 0o777), int(st.Uid), int(st.Gid), true, nil
}

// replaceIn writes data to a new file in the directory parent and renames
// it over base; durable syncs the file and the directory.
func replaceIn(parent int, base, where string, data []byte, mode os.FileMode, uid, gid int, durable bool) error {
	f, tmp, err := createTempAt(parent, base, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", where, err)
	}
	defer f.Close()
	if err := fill(f, data, mode, uid, gid, durable); err != nil {
		if tmp != "" {
			unix.Unlinkat(parent, tmp, 0)
		}
		return fmt.Errorf("write %s: %w", where, err)
	}
	if tmp == "" {
		tmp = tempName(base)
		unix.Unlinkat(parent, tmp, 0)
		if err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), parent, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
			return fmt.Errorf("write %s: link temporary file: %w", where, err)
		}
	}
	if err := unix.Renameat(parent, tmp, parent, base); err != nil {
		unix.Unlinkat(parent, tmp, 0)
		return fmt.Errorf("write %s: %w", where, err)
	}
	if !durable {
		return nil
	}
	if err := unix.Fsync(parent); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(where), err)
	}
	return nil
}

func tempName(base string) string {
	return "." + base + ".crhook-" + strconv.Itoa(os.Getpid())
}

// createTempAt opens an unnamed file in the directory parent, or, where
// the filesystem has no O_TMPFILE, a named one (returned as tmp).
func createTempAt(parent int, base string, mode os.FileMode) (f *os.File, tmp string, err error) {
	fd, err := unix.Openat(parent, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(mode))
	if err == nil {
		return os.NewFile(uintptr(fd), base), "", nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, "", err
	}
	tmp = tempName(base)
	unix.Unlinkat(parent, tmp, 0)
	fd, err = unix.Openat(parent, tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, uint32(mode))
	if err != nil {
		return nil, "", err
	}
	return os.NewFile(uintptr(fd), tmp), tmp, nil
}

// MkdirAll makes the directory name beneath d and its missing parents.
func (d *Dir) MkdirAll(name string, perm os.FileMode) error {
	rel := relative(name)
	if rel == "." {
		return nil
	}
	done := ""
	for _, elem := range strings.Split(rel, "/") {
		parent, err := d.open(orDot(done), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return fmt.Errorf("create %s: %w", d.join(name), err)
		}
		err = unix.Mkdirat(parent, elem, uint32(perm))
		unix.Close(parent)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create %s: %w", d.join(filepath.Join(done, elem)), err)
		}
		done = filepath.Join(done, elem)
	}
	// What exists must be a directory reached beneath d, links included.
	fd, err := d.open(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("create %s: %w", d.join(name), err)
	}
	return unix.Close(fd)
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// Symlink makes name a symbolic link to target, replacing what is there
// in one rename.
func (d *Dir) Symlink(target, name string) error {
	parent, base, err := d.parent(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", d.join(name), err)
	}
	defer unix.Close(parent)
	tmp := tempName(base)
	unix.Unlinkat(parent, tmp, 0)
	if err := unix.Symlinkat(target, parent, tmp); err != nil {
		return fmt.Errorf("link %s: %w", d.join(name), err)
	}
	if err := unix.Renameat(parent, tmp, parent, base); err != nil {
		unix.Unlinkat(parent, tmp, 0)
		return fmt.Errorf("link %s: %w", d.join(name), err)
	}
	return nil
}

// Remove removes the file or link name; a missing one is no error.
func (d *Dir) Remove(name string) error {
	parent, base, err := d.parent(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", d.join(name), err)
	}
	defer unix.Close(parent)
	if err := unix.Unlinkat(parent, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", d.join(name), err)
	}
	return nil
}

// ReadDir returns the names in the directory name beneath d, sorted.
func (d *Dir) ReadDir(name string) ([]string, error) {
	fd, err := d.open(name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), d.join(name))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.join(name), err)
	}
	slices.Sort(names)
	return names, nil
}
