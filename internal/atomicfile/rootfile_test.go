package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestWriteRootFile: a program every container start runs is root's,
// 0755, whatever stood at its path, and only in a directory only root
// can change.
func TestWriteRootFile(t *testing.T) {
	requireRoot(t, "chowns files to other users")
	tests := []struct {
		name string
		// setup prepares dir and returns the directory to write in.
		setup   func(t *testing.T, dir string) string
		refused bool
	}{
		{name: "over a nobody-owned 0777 file", setup: func(t *testing.T, dir string) string {
			mkFile(t, filepath.Join(dir, "bin", "crhook-hook"), 0o777, 65534)
			return filepath.Join(dir, "bin")
		}},
		{name: "over a link, which is replaced and not followed", setup: func(t *testing.T, dir string) string {
			mkFile(t, filepath.Join(dir, "victim"), 0o644, 0)
			mkDir(t, filepath.Join(dir, "bin"), 0o755, 0)
			if err := os.Symlink("../victim", filepath.Join(dir, "bin", "crhook-hook")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "bin")
		}},
		{name: "below a root-owned sticky directory", setup: func(t *testing.T, dir string) string {
			mkDir(t, filepath.Join(dir, "tmp"), 0o1777, 0)
			mkDir(t, filepath.Join(dir, "tmp", "bin"), 0o755, 0)
			return filepath.Join(dir, "tmp", "bin")
		}},
		{name: "in a directory others can write", refused: true, setup: func(t *testing.T, dir string) string {
			mkDir(t, filepath.Join(dir, "bin"), 0o777, 0)
			return filepath.Join(dir, "bin")
		}},
		{name: "in a sticky directory others can add to", refused: true, setup: func(t *testing.T, dir string) string {
			mkDir(t, filepath.Join(dir, "bin"), 0o1777, 0)
			return filepath.Join(dir, "bin")
		}},
		{name: "in a directory a user owns", refused: true, setup: func(t *testing.T, dir string) string {
			mkDir(t, filepath.Join(dir, "bin"), 0o755, 1000)
			return filepath.Join(dir, "bin")
		}},
		{name: "below a directory its group can write", refused: true, setup: func(t *testing.T, dir string) string {
			mkDir(t, filepath.Join(dir, "opt"), 0o775, 0)
			mkDir(t, filepath.Join(dir, "opt", "bin"), 0o755, 0)
			return filepath.Join(dir, "opt", "bin")
		}},
		{name: "through a link to a directory others can write", refused: true, setup: func(t *testing.T, dir string) string {
			mkDir(t, filepath.Join(dir, "shared"), 0o777, 0)
			mkDir(t, filepath.Join(dir, "shared", "bin"), 0o755, 0)
			if err := os.Symlink("shared/bin", filepath.Join(dir, "bin")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "bin")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			binDir := tt.setup(t, root)
			d, err := OpenRoot(root)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			name := filepath.Join("/", mustRel(t, root, binDir), "crhook-hook")
			before := listing(t, binDir)
			err = d.WriteRootFile(name, []byte("binary"), 0o755)
			if tt.refused {
				if !errors.Is(err, ErrOthersCanWrite) {
					t.Fatalf("err = %v, want ErrOthersCanWrite", err)
				}
				if after := listing(t, binDir); !slices.Equal(after, before) {
					t.Errorf("a refused write left %v, was %v", after, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertRootFile(t, filepath.Join(binDir, "crhook-hook"))
			if !d.IsRootFile(name, 0o755) {
				t.Error("IsRootFile says no")
			}
			if got, err := os.ReadFile(filepath.Join(root, "victim")); err == nil && string(got) != "old" {
				t.Errorf("the link's target was written: %q", got)
			}
		})
	}
}

// TestOnlyRootCanCreate: a directory install would create is checked
// from the deepest one that exists.
func TestOnlyRootCanCreate(t *testing.T) {
	requireRoot(t, "chowns directories to other users")
	root := t.TempDir()
	mkDir(t, filepath.Join(root, "open"), 0o777, 0)
	mkDir(t, filepath.Join(root, "sticky"), 0o1777, 0)
	d, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for name, refused := range map[string]bool{"/open/new/bin": true, "/open": true, "/sticky/new/bin": false, "/sticky": true, "/new/bin": false} {
		if err := d.OnlyRootCanCreate(name); errors.Is(err, ErrOthersCanWrite) != refused || (err != nil && !refused) {
			t.Errorf("%s: err = %v, want refused %v", name, err, refused)
		}
	}
}

func assertRootFile(t *testing.T, path string) {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if !info.Mode().IsRegular() || info.Mode().Perm() != 0o755 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("%s: mode %v owner %d:%d, want a regular file, 0755, root:root", path, info.Mode(), st.Uid, st.Gid)
	}
}

func mkFile(t *testing.T, path string, perm os.FileMode, owner int) {
	t.Helper()
	mkDir(t, filepath.Dir(path), 0o755, 0)
	if err := os.WriteFile(path, []byte("old"), perm); err != nil {
		t.Fatal(err)
	}
	chownChmod(t, path, perm, owner)
}

func mkDir(t *testing.T, path string, perm os.FileMode, owner int) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	chownChmod(t, path, perm, owner)
}

func chownChmod(t *testing.T, path string, perm os.FileMode, owner int) {
	t.Helper()
	if err := os.Chown(path, owner, owner); err != nil {
		t.Fatal(err)
	}
	mode := perm.Perm()
	if perm&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustRel(t *testing.T, base, target string) string {
	t.Helper()
	rel, err := filepath.Rel(base, target)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
