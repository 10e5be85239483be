package atomicfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	requireRoot(t, "mounts a tiny tmpfs to make a write fail with ENOSPC")
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)+",mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillUp writes to path until the filesystem has no room left.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// listing names every entry of dir with its size, so a leftover
// temporary file or a changed file shows up.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, fmt.Sprintf("%s %s %d", e.Name(), info.Mode(), info.Size()))
	}
	return names
}

// writeIn writes data to name beneath dir through a Dir, as crhook does.
func writeIn(dir, name string, data []byte, perm os.FileMode) error {
	return writeWith((*Dir).WriteFile, dir, name, data, perm)
}

// writers are the two ways Dir replaces a file: synced to disk, or, for
// state that does not outlive the boot, not. Both must be as atomic.
var writers = []struct {
	name  string
	write func(*Dir, string, []byte, os.FileMode) error
}{
	{"WriteFile", (*Dir).WriteFile},
	{"WriteStateFile", (*Dir).WriteStateFile},
}

func writeWith(write func(*Dir, string, []byte, os.FileMode) error, dir, name string, data []byte, perm os.FileMode) error {
	d, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return write(d, name, data, perm)
}

func freeBlocks(t *testing.T, dir string) uint64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bfree
}

// TestWriteFileFailsCleanly injects a real ENOSPC on a 64 KiB tmpfs: the
// original must keep its content, and nothing may be left behind, named
// or unnamed (free space returns to what it was).
func TestWriteFileFailsCleanly(t *testing.T) {
	const original = `{"ociVersion":"1.0.2"}`
	tests := []struct {
		name string
		// full fills the filesystem before the write; otherwise the
		// payload runs out of room part-way.
		full bool
	}{
		{name: "filesystem already full", full: true},
		{name: "payload larger than the free space", full: false},
	}
	for _, w := range writers {
		for _, tt := range tests {
			t.Run(w.name+"/"+tt.name, func(t *testing.T) { checkFailsCleanly(t, w.write, tt.full, original) })
		}
	}
}

func checkFailsCleanly(t *testing.T, write func(*Dir, string, []byte, os.FileMode) error, full bool, original string) {
	dir := mountTmpfs(t, 64<<10)
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	if full {
		fillUp(t, filepath.Join(dir, "filler"))
	}
	before, free := listing(t, dir), freeBlocks(t, dir)

	err := writeWith(write, dir, "config.json", bytes.Repeat([]byte("x"), 1<<20), 0o644)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("write on a full filesystem: err = %v, want ENOSPC", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != original {
		t.Errorf("original changed: %q, %v", got, err)
	}
	if after := listing(t, dir); !slices.Equal(before, after) {
		t.Errorf("directory changed:\nbefore %q\nafter  %q", before, after)
	}
	if after := freeBlocks(t, dir); after != free {
		t.Errorf("free blocks %d before, %d after: a temporary file still holds space", free, after)
	}
}

// TestWriteFileKeepsModeAndOwner: replacing a file keeps its mode and
// owner, whatever perm says; a new file gets exactly perm, umask or not.
func TestWriteFileKeepsModeAndOwner(t *testing.T) {
	requireRoot(t, "chowns a file to another user")
	tests := []struct {
		name      string
		exists    bool
		perm      os.FileMode
		wantMode  os.FileMode
		wantOwner int
	}{
		{name: "existing file keeps 0600 and 1234:1234", exists: true, perm: 0o644, wantMode: 0o600, wantOwner: 1234},
		{name: "new file gets perm", exists: false, perm: 0o640, wantMode: 0o640, wantOwner: 0},
	}
	for _, w := range writers {
		for _, tt := range tests {
			t.Run(w.name+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "config.json")
				if tt.exists {
					if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
						t.Fatal(err)
					}
					if err := os.Chown(path, 1234, 1234); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(path, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if err := writeWith(w.write, dir, "config.json", []byte("new"), tt.perm); err != nil {
					t.Fatal(err)
				}
				info, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				st := info.Sys().(*syscall.Stat_t)
				if info.Mode() != tt.wantMode || int(st.Uid) != tt.wantOwner || int(st.Gid) != tt.wantOwner {
					t.Errorf("mode %v owner %d:%d, want %v %d:%d", info.Mode(), st.Uid, st.Gid, tt.wantMode, tt.wantOwner, tt.wantOwner)
				}
				if got, _ := os.ReadFile(path); string(got) != "new" {
					t.Errorf("content %q", got)
				}
			})
		}
	}
}

// TestWriteFileThroughSymlink: a linked config.json is updated where the
// link points, and the link stays a link, as long as it points beneath
// the directory; a link leading out is refused and nothing changes.
func TestWriteFileThroughSymlink(t *testing.T) {
	for _, tt := range symlinkCases() {
		t.Run(tt.name, func(t *testing.T) { checkWriteThroughSymlink(t, tt) })
	}
}

// symlinkCase is where a linked config.json points.
type symlinkCase struct {
	name string
	// target returns where the link points, given the link's dir.
	target func(t *testing.T, linkDir string) string
	// relative makes the link relative to its directory.
	relative bool
	outside  bool
}

func symlinkCases() []symlinkCase {
	return []symlinkCase{
		{name: "relative link in the same directory", relative: true, target: func(_ *testing.T, d string) string { return filepath.Join(d, "real.json") }},
		{name: "relative link into a subdirectory", relative: true, target: func(t *testing.T, d string) string {
			if err := os.Mkdir(filepath.Join(d, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "sub", "real.json")
		}},
		{name: "absolute link to another directory", outside: true, target: func(t *testing.T, _ string) string { return filepath.Join(t.TempDir(), "real.json") }},
		{name: "relative link out with ..", relative: true, outside: true, target: func(t *testing.T, d string) string {
			return filepath.Join(filepath.Dir(d), filepath.Base(d)+"-outside.json")
		}},
		{name: "link to a link that leaves", outside: true, target: func(t *testing.T, d string) string {
			final := filepath.Join(t.TempDir(), "final.json")
			middle := filepath.Join(d, "middle.json")
			if err := os.WriteFile(final, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(final, middle); err != nil {
				t.Fatal(err)
			}
			return middle
		}},
	}
}

// checkWriteThroughSymlink writes config.json through tt's link and
// checks the write lands where the link points, or is refused when that
// is outside.
func checkWriteThroughSymlink(t *testing.T, tt symlinkCase) {
	t.Helper()
	dir := t.TempDir()
	link, dest := makeConfigLink(t, dir, tt)
	err := writeIn(dir, "config.json", []byte("new"), 0o644)
	if tt.outside {
		if !errors.Is(err, ErrOutside) {
			t.Fatalf("err = %v, want ErrOutside", err)
		}
		if got, _ := os.ReadFile(link); string(got) != "old" {
			t.Errorf("the file outside changed: %q", got)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link became a %v", info.Mode())
	}
	if got, err := os.Readlink(link); err != nil || got != dest {
		t.Errorf("link points at %q (%v), want %q", got, err, dest)
	}
	if got, err := os.ReadFile(link); err != nil || string(got) != "new" {
		t.Errorf("read through link: %q, %v", got, err)
	}
}

// makeConfigLink makes dir/config.json a link to tt's target, which it
// creates holding "old" unless the case already made it. It returns the
// link and what the link holds.
func makeConfigLink(t *testing.T, dir string, tt symlinkCase) (link, dest string) {
	t.Helper()
	target := tt.target(t, dir)
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link = filepath.Join(dir, "config.json")
	dest = target
	if tt.relative {
		var err error
		if dest, err = filepath.Rel(dir, target); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(dest, link); err != nil {
		t.Fatal(err)
	}
	return link, dest
}

// TestRootKeepsAbsoluteLinksInside: in a root (install --host-root), an
// absolute link on the host resolves inside the root, never to this
// machine's own file of that name.
func TestRootKeepsAbsoluteLinksInside(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(outside, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	// On the host, /etc/docker/daemon.json links to OUTSIDE; from the pod
	// that absolute path names a file of the pod's, not the host's.
	if err := os.Symlink(outside, filepath.Join(root, "etc/docker/daemon.json")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteFile("/etc/docker/daemon.json", []byte("host"), 0o644); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a dangling link: err = %v, want a refusal", err)
	}
	if err := d.MkdirAll(filepath.Dir(outside), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, outside), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("/etc/docker/daemon.json", []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(outside); string(got) != "mine" {
		t.Fatalf("the write left the root: %s now holds %q", outside, got)
	}
	if got, err := os.ReadFile(filepath.Join(root, outside)); err != nil || string(got) != "host" {
		t.Fatalf("the write did not land inside the root: %q, %v", got, err)
	}
	if err := d.Symlink("crhook-hook", "/usr/local/bin/crhook-runtime"); err == nil {
		t.Fatal("Symlink into a missing directory must fail; MkdirAll first")
	}
	if err := d.MkdirAll("/usr/local/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Symlink("crhook-hook", "/usr/local/bin/crhook-runtime"); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Readlink("/usr/local/bin/crhook-runtime"); err != nil || got != "crhook-hook" {
		t.Fatalf("readlink: %q, %v", got, err)
	}
	if err := d.Remove("/usr/local/bin/crhook-runtime"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("/usr/local/bin/crhook-runtime"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
}

// TestOpenDirRefusesNonDirectories: OpenDir fails at once on anything
// but a directory; a FIFO in particular must not block the open.
func TestOpenDirRefusesNonDirectories(t *testing.T) {
	tests := []struct {
		name    string
		make    func(path string) error
		wantErr error
	}{
		{name: "FIFO", make: func(p string) error { return unix.Mkfifo(p, 0o644) }, wantErr: unix.ENOTDIR},
		{name: "regular file", make: func(p string) error { return os.WriteFile(p, nil, 0o644) }, wantErr: unix.ENOTDIR},
		{name: "missing", make: func(string) error { return nil }, wantErr: os.ErrNotExist},
		{name: "symlink loop", make: func(p string) error { return os.Symlink(filepath.Base(p), p) }, wantErr: unix.ELOOP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle")
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				d, err := OpenDir(path)
				if err == nil {
					err = d.Lock()
					d.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OpenDir blocked")
			}
		})
	}
}

// counter is the file concurrent writers update: each adds its name.
type counter struct {
	Count   int      `json:"count"`
	Writers []string `json:"writers"`
}

// increment is one writer's turn: lock, read, append, write, unlock.
func increment(dir, name string) error {
	d, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Lock(); err != nil {
		return err
	}
	data, err := d.ReadFile("counter.json", 1<<20)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	var c counter
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("decode %q: %w", data, err)
	}
	c.Count++
	c.Writers = append(c.Writers, name)
	out, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return d.WriteFile("counter.json", out, 0o644)
}

// helperDirEnv makes the test binary one writer process of
// TestConcurrentWriters instead of running tests.
const helperDirEnv = "ATOMICFILE_TEST_WRITER_DIR"

// TestWriterProcess is not a test: TestConcurrentWriters runs the test
// binary with helperDirEnv set, and this takes one turn and exits.
func TestWriterProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		return
	}
	if err := increment(dir, "pid-"+strconv.Itoa(os.Getpid())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestConcurrentWriters: writers that take the Dir lock never lose an update,
// whether they are goroutines (one flock per open) or processes, and a
// reader never sees a partial file while they run.
func TestConcurrentWriters(t *testing.T) {
	const writers = 20
	tests := []struct {
		name string
		run  func(t *testing.T, dir string, i int) error
	}{
		{name: "goroutines", run: func(_ *testing.T, dir string, i int) error {
			return increment(dir, "goroutine-"+strconv.Itoa(i))
		}},
		{name: "processes", run: func(t *testing.T, dir string, _ int) error {
			cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("writer process: %w: %s", err, out)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "counter.json")
			if err := os.WriteFile(path, []byte(`{"count":0,"writers":[]}`), 0o644); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			readerErr := make(chan error, 1)
			go func() { readerErr <- readUntil(path, stop) }()

			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Go(func() { errs[i] = tt.run(t, dir, i) })
			}
			wg.Wait()
			close(stop)
			if err := errors.Join(append(errs, <-readerErr)...); err != nil {
				t.Fatal(err)
			}

			var c counter
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("final content is not valid: %v: %q", err, data)
			}
			slices.Sort(c.Writers)
			if c.Count != writers || len(slices.Compact(c.Writers)) != writers {
				t.Errorf("count %d with %d distinct writers, want %d: an update was lost", c.Count, len(c.Writers), writers)
			}
			if got := listing(t, dir); len(got) != 1 {
				t.Errorf("leftover files: %q", got)
			}
		})
	}
}

// readUntil reads path over and over until stop closes, failing on any
// content that is not a whole counter.
func readUntil(path string, stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reader: %w", err)
		}
		var c counter
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("reader saw a partial file %q: %w", data, err)
		}
	}
}
