package hostpath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSource resolves real paths of this host, as a runtime will: the
// kernel's answer, not a name, says what is a procfs.
func TestSource(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/proc", filepath.Join(dir, "not-proc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data", filepath.Join(dir, "to-data")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		base      string
		path      string
		recursive bool
		wantPath  string
		procfs    bool
		below     string
		wantErr   string
	}{
		{name: "the host's /proc", path: "/proc", wantPath: "/proc", procfs: true},
		{name: "a path that cleans to / but resolves through /dev/fd", path: "/dev/fd/../..", wantPath: "/proc", procfs: true},
		{name: "a link named otherwise", path: filepath.Join(dir, "not-proc"), wantPath: "/proc", procfs: true},
		{name: "a file in /proc/sys", path: "/proc/sys/kernel/ns_last_pid", wantPath: "/proc/sys/kernel/ns_last_pid", procfs: true},
		{name: "a magic link out of procfs", path: "/proc/self/root/etc", wantPath: "/etc"},
		{name: "/ without rbind", path: "/", wantPath: "/"},
		{name: "/ with rbind takes the host's procfs along", path: "/", recursive: true, wantPath: "/", below: "/proc"},
		{name: "a plain directory with rbind", path: filepath.Join(dir, "data"), recursive: true, wantPath: filepath.Join(dir, "data")},
		{name: "dot-dot and no link", path: dir + "/data/../data/", wantPath: filepath.Join(dir, "data")},
		{name: "a relative link to a plain directory", path: filepath.Join(dir, "to-data"), wantPath: filepath.Join(dir, "data")},
		{name: "dot-dot after a link", path: filepath.Join(dir, "not-proc") + "/self/..", wantPath: "/proc", procfs: true},
		{name: "relative, from the bundle", base: dir, path: "data", wantPath: filepath.Join(dir, "data")},
		{name: "relative, no bundle", path: "data", wantErr: "relative path"},
		{name: "missing", path: filepath.Join(dir, "missing"), wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{Base: tt.base}
			b, err := r.Source(tt.path, tt.recursive)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Path != tt.wantPath || b.Procfs != tt.procfs || b.ProcfsBelow != tt.below {
				t.Errorf("got %+v, want path %s, procfs %v, below %q", b, tt.wantPath, tt.procfs, tt.below)
			}
		})
	}
}

// TestSourceFileReadsNoMounts: a file has no mounts below it, so a
// recursive bind of one does not read the mount table.
func TestSourceFileReadsNoMounts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{}
	if _, err := r.Source(file, true); err != nil || r.read {
		t.Errorf("err %v, read the mount table %v", err, r.read)
	}
	if _, err := r.Source("/", true); err != nil || !r.read {
		t.Errorf("err %v, read the mount table %v", err, r.read)
	}
}
