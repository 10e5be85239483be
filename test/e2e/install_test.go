package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestInstallBinary: install --install-binary DIR puts the crhook-hook
// every container start runs as root at DIR as a root:root 0755 file,
// whatever stood there (the review found a nobody-owned 0777 file kept
// its owner and mode), and refuses a DIR that others can change, writing
// nothing.
func TestInstallBinary(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name string
		// setup prepares the host root; binDir is the --install-binary DIR.
		setup   func(t *testing.T, root string)
		binDir  string
		refusal string
	}{
		{name: "over a nobody-owned 0777 file", binDir: "/usr/local/bin", setup: func(t *testing.T, root string) {
			bin := filepath.Join(root, "usr/local/bin")
			mustDo(t, os.MkdirAll(bin, 0o755))
			mustDo(t, os.WriteFile(filepath.Join(bin, "crhook-hook"), []byte("old"), 0o777))
			mustDo(t, os.Chmod(filepath.Join(bin, "crhook-hook"), 0o777))
			mustDo(t, os.Chown(filepath.Join(bin, "crhook-hook"), 65534, 65534))
		}},
		{name: "over a link to another file", binDir: "/usr/local/bin", setup: func(t *testing.T, root string) {
			bin := filepath.Join(root, "usr/local/bin")
			mustDo(t, os.MkdirAll(bin, 0o755))
			mustDo(t, os.WriteFile(filepath.Join(root, "victim"), []byte("old"), 0o644))
			mustDo(t, os.Symlink("/victim", filepath.Join(bin, "crhook-hook")))
		}},
		{name: "into a new directory", binDir: "/opt/crhook/bin", setup: func(*testing.T, string) {}},
		{name: "into a directory others can write", binDir: "/srv/bin", refusal: "/srv/bin has mode 0777", setup: func(t *testing.T, root string) {
			mustDo(t, os.MkdirAll(filepath.Join(root, "srv/bin"), 0o755))
			mustDo(t, os.Chmod(filepath.Join(root, "srv/bin"), 0o777))
		}},
		{name: "into a directory a user owns", binDir: "/home/u/bin", refusal: "is owned by uid 1000", setup: func(t *testing.T, root string) {
			mustDo(t, os.MkdirAll(filepath.Join(root, "home/u/bin"), 0o755))
			mustDo(t, os.Chown(filepath.Join(root, "home/u"), 1000, 1000))
		}},
		{name: "into a new directory below one others can write", binDir: "/shared/new/bin", refusal: "/shared has mode 0777", setup: func(t *testing.T, root string) {
			mustDo(t, os.MkdirAll(filepath.Join(root, "shared"), 0o755))
			mustDo(t, os.Chmod(filepath.Join(root, "shared"), 0o777))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(t, root)
			before := treeSnapshot(t, root)
			r := crhook(t, nil, "install", "--for", "podman", "--host-root", root, "--install-binary", tt.binDir)
			if tt.refusal != "" {
				if r.Code != 2 {
					t.Fatalf("install must refuse with exit 2: %s", r)
				}
				assertStderr(t, r, 2, tt.refusal)
				assertSameTree(t, root, before, treeSnapshot(t, root))
				return
			}
			if r.Code != 0 {
				t.Fatalf("install: %s", r)
			}
			installed := filepath.Join(root, tt.binDir, "crhook-hook")
			assertRootProgram(t, installed)
			if readFile(t, installed) != readFile(t, hookBin) {
				t.Error("the installed crhook-hook is not the binary install was run with")
			}
			if data, err := os.ReadFile(filepath.Join(root, "victim")); err == nil && string(data) != "old" {
				t.Error("install wrote through the link")
			}
			if again := crhook(t, nil, "install", "--for", "podman", "--host-root", root, "--install-binary", tt.binDir); again.Code != 0 || !strings.Contains(again.Stdout, "nothing to change") {
				t.Errorf("a second install must change nothing: %s", again)
			}
		})
	}
}

// assertRootProgram checks path is a regular file, root:root, mode 0755.
func assertRootProgram(t *testing.T, path string) {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if !info.Mode().IsRegular() || info.Mode().Perm() != 0o755 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("%s: %v %d:%d, want a regular file, root:root 0755", path, info.Mode(), st.Uid, st.Gid)
	}
}

// TestUninstallGivesBackEngineFiles: through the real command, uninstall
// gives each engine file back as it was before install, bytes and mode,
// and removes what did not exist. The review's case: a daemon.json of {}
// with mode 0600 was deleted.
func TestUninstallGivesBackEngineFiles(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name, engine, existing string
		flag                   string // the flag naming the engine's file or directory
		file                   string // the file, under the directory the test makes
	}{
		{name: "docker: {} mode 0600", engine: "docker", flag: "--engine-config", file: "daemon.json", existing: "{}"},
		{name: "docker: no daemon.json", engine: "docker", flag: "--engine-config", file: "daemon.json"},
		{name: "docker: an empty runtimes object", engine: "docker", flag: "--engine-config", file: "daemon.json", existing: "{\"runtimes\":{}}\n"},
		{name: "containerd: version 2 without a newline", engine: "containerd", flag: "--engine-config", file: "config.toml", existing: "version = 2"},
		{name: "podman: the admin's file of crhook's name", engine: "podman", flag: "--hooks-dir", file: "crhook-poststart.json", existing: "{\"version\": \"1.0.0\"}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			flagValue := path
			if tt.flag == "--hooks-dir" {
				flagValue = dir
			}
			if tt.existing != "" {
				mustDo(t, os.WriteFile(path, []byte(tt.existing), 0o600))
			}
			before := treeSnapshot(t, dir)
			args := []string{"--for", tt.engine, tt.flag, flagValue, "--record", filepath.Join(t.TempDir(), "install-record.json")}
			if r := crhook(t, nil, append([]string{"install"}, args...)...); r.Code != 0 {
				t.Fatalf("install: %s", r)
			}
			if r := crhook(t, nil, append([]string{"uninstall"}, args...)...); r.Code != 0 {
				t.Fatalf("uninstall: %s", r)
			}
			assertSameTree(t, dir, withoutInodes(before), withoutInodes(treeSnapshot(t, dir)))
		})
	}
}

// withoutInodes drops the inode from each treeSnapshot description: a
// file given back by rename has the same bytes, mode and owner, and a
// new inode.
func withoutInodes(snap map[string]string) map[string]string {
	out := map[string]string{}
	for p, desc := range snap {
		f := strings.Fields(desc)
		if i := slices.Index(f, "ino"); i >= 0 && i+1 < len(f) {
			f = slices.Delete(f, i, i+2)
		}
		out[p] = strings.Join(f, " ")
	}
	return out
}
