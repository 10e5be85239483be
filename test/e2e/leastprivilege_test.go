package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/verify"
)

// TestUserNamespaceGetsNoMapFiles: a container with its own user
// namespace, patched, can place processes at chosen PIDs in its PID
// namespace but cannot open /proc/self/map_files: the kernel wants
// CAP_CHECKPOINT_RESTORE in the initial user namespace for that, and
// crhook cannot (and does not) grant it there.
func TestUserNamespaceGetsNoMapFiles(t *testing.T) {
	b := newBundle(t, verifyArgs...)
	// The mapped root (host uid 100000) must reach the rootfs: the test's
	// temporary directories are 0700.
	for _, dir := range []string{filepath.Dir(b.Dir), b.Dir} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	if r := crhook(t, nil, "patch", "--bundle", b.Dir); r.Code != 0 {
		t.Fatalf("patch: %s", r)
	}
	r := runcRun(t, b)
	if r.Code != 0 {
		t.Fatalf("verify: %s", r)
	}
	rep := parseReport(t, r)
	if !rep.OK || rep.Drill.Parent.Got != 500 {
		t.Fatalf("set_tid inside the user namespace: %+v", rep)
	}
	if c := check(t, rep, "map_files"); c.Status != verify.StatusNote || !strings.Contains(c.Detail, "EPERM") || !strings.Contains(c.Detail, "own user namespace") {
		t.Errorf("map_files: %+v", c)
	}
}
