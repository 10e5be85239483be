package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteFile replaces path with data. An existing file keeps its mode and
// owner; a new one gets perm. The data goes to an unnamed O_TMPFILE in the
// same directory, is synced, and only then gets a name and is renamed over
// path, so a process killed on the way leaves nothing behind.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	mode, uid, gid := perm, -1, -1
	if info, err := os.Stat(target); err == nil {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("write %s: not a regular file", target)
		}
		mode = info.Mode().Perm()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %s: %w", target, err)
	}
	dir := filepath.Dir(target)
	f, named, err := createTemp(dir, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	defer f.Close()
	if err := fill(f, data, mode, uid, gid); err != nil {
		if named != "" {
			os.Remove(named)
		}
		return fmt.Errorf("write %s: %w", target, err)
	}
	if named == "" {
		named = filepath.Join(dir, "."+filepath.Base(target)+".crhook-"+strconv.Itoa(os.Getpid()))
		os.Remove(named)
		if err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, named, unix.AT_SYMLINK_FOLLOW); err != nil {
			return fmt.Errorf("write %s: link temporary file: %w", target, err)
		}
	}
	if err := os.Rename(named, target); err != nil {
		os.Remove(named)
		return fmt.Errorf("write %s: %w", target, err)
	}
	return syncDir(dir)
}

// resolve follows symlinks so a linked config.json is updated in place
// rather than replaced by a plain file.
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return filepath.Clean(path), nil
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return target, nil
}

// createTemp opens an unnamed file in dir, or, where the filesystem has
// no O_TMPFILE, a named one (returned as named).
func createTemp(dir string, mode os.FileMode) (f *os.File, named string, err error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(mode))
	if err == nil {
		return os.NewFile(uintptr(fd), dir), "", nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, "", err
	}
	f, err = os.CreateTemp(dir, ".crhook-*")
	if err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

func fill(f *os.File, data []byte, mode os.FileMode, uid, gid int) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// LockDir takes an exclusive flock on dir, waiting for other crhook
// writers, and returns the function that releases it. A directory keeps
// its inode across the renames WriteFile does, so it is a stable lock.
func LockDir(dir string) (unlock func(), err error) {
	// O_DIRECTORY: a FIFO named as the directory (say a hostile --bundle)
	// fails at once with ENOTDIR; a plain open would block until some
	// writer opened the FIFO.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, &os.PathError{Op: "open", Path: dir, Err: err})
	}
	d := os.NewFile(uintptr(fd), dir)
	for {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { d.Close() }, nil
}

// Symlink makes path a symbolic link to target, replacing what is there
// in one rename.
func Symlink(target, path string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".crhook-"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}
