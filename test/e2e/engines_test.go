package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// importImage imports a busybox rootfs (with crhook as /bin/crhook) into
// podman's store as a new image and returns its name. changes are
// Containerfile instructions for the image config, such as "USER 1000"
// for engines like ctr that take the user from the image. No registry is
// involved.
func importImage(t *testing.T, changes ...string) string {
	t.Helper()
	return importRootfs(t, func(string) {}, changes...)
}

// importRootfs is importImage with extra files: extra adds them to the
// rootfs before it is imported.
func importRootfs(t *testing.T, extra func(rootfs string), changes ...string) string {
	t.Helper()
	return importRootfsTo(t, nil, extra, changes...)
}

// importRootfsTo is importRootfs into the podman store that the global
// flags store name (none: the default one).
func importRootfsTo(t *testing.T, store []string, extra func(rootfs string), changes ...string) string {
	t.Helper()
	requireRoot(t)
	podman := requireTool(t, "podman")
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	makeRootfs(t, rootfs)
	extra(rootfs)
	tarball := filepath.Join(dir, "rootfs.tar")
	if r := run(t, nil, "tar", "-C", rootfs, "-cf", tarball, "."); r.Code != 0 {
		t.Fatalf("tar: %s", r)
	}
	name := fmt.Sprintf("localhost/crhook-e2e:%d-%d", os.Getpid(), containerSeq.Add(1))
	args := append(slices.Clone(store), "import")
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	if r := run(t, nil, podman, append(args, tarball, name)...); r.Code != 0 {
		t.Fatalf("podman import: %s", r)
	}
	t.Cleanup(func() { exec.Command(podman, append(slices.Clone(store), "rmi", "--force", name)...).Run() })
	return name
}

// podmanGlobal are the flags podman needs on this machine (LAB.md):
// cgroupfs, runc, and crhook's hooks dir.
func podmanGlobal(hooksDir string) []string {
	return []string{"--cgroup-manager=cgroupfs", "--runtime=runc", "--hooks-dir", hooksDir}
}

// podmanRunFlags: no network, and ulimits this machine can grant (it
// lacks CAP_SYS_RESOURCE, so podman's defaults fail).
var podmanRunFlags = []string{"--network=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

func podman(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, requireTool(t, "podman"), args...)
}

// installPodmanHooks runs `crhook install --for podman` into a private
// hooks dir, with a config that logs to the test's directory and holds
// config, extra admin settings.
func installPodmanHooks(t *testing.T, config ...string) (hooksDir, logPath string) {
	t.Helper()
	hooksDir = t.TempDir()
	configPath, logPath := writeConfig(t, strings.Join(config, "\n"))
	if r := crhook(t, nil, "install", "--for", "podman", "--hooks-dir", hooksDir, "--config", configPath, "--record", filepath.Join(t.TempDir(), "install-record.json")); r.Code != 0 {
		t.Fatalf("install: %s", r)
	}
	return hooksDir, logPath
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	if last, ok := poll(timeout, 50*time.Millisecond, cond); !ok {
		t.Fatalf("timed out waiting for %s; last: %s", what, strings.TrimSpace(last))
	}
}

// poll calls cond every interval until it holds (true) or timeout has
// passed (false), and returns the state cond gave last.
func poll(timeout, interval time.Duration, cond func() (bool, string)) (last string, ok bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok, last = cond(); ok {
			return last, true
		}
		time.Sleep(interval)
	}
	return last, false
}
