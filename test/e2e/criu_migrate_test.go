package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/spec"
)

// testHost is a network namespace standing for a host: a loopback and
// one end of a veth pair with an address of its own.
type testHost struct {
	Netns, Addr string
}

// twoHosts makes hosts A and B, joined by a veth pair, at 198.51.100.1
// and 198.51.100.2 (TEST-NET-2). Nothing of the host's network changes.
func twoHosts(t *testing.T) (a, b testHost) {
	t.Helper()
	ip := requireTool(t, "ip")
	seq := containerSeq.Add(1)
	a = testHost{Netns: fmt.Sprintf("crhook-a-%d-%d", os.Getpid(), seq), Addr: "198.51.100.1"}
	b = testHost{Netns: fmt.Sprintf("crhook-b-%d-%d", os.Getpid(), seq), Addr: "198.51.100.2"}
	for _, h := range []testHost{a, b} {
		if r := run(t, nil, ip, "netns", "add", h.Netns); r.Code != 0 {
			t.Fatalf("ip netns add: %s", r)
		}
		t.Cleanup(func() { run(t, nil, ip, "netns", "del", h.Netns) })
	}
	if r := run(t, nil, ip, "link", "add", "name", "crhook-mig", "netns", a.Netns, "type", "veth", "peer", "name", "crhook-mig", "netns", b.Netns); r.Code != 0 {
		t.Fatalf("ip link add veth: %s", r)
	}
	for _, h := range []testHost{a, b} {
		for _, args := range [][]string{
			{"addr", "add", h.Addr + "/24", "dev", "crhook-mig"},
			{"link", "set", "crhook-mig", "up"},
			{"link", "set", "lo", "up"},
		} {
			if r := run(t, nil, ip, append([]string{"-n", h.Netns}, args...)...); r.Code != 0 {
				t.Fatalf("ip -n %s %s: %s", h.Netns, strings.Join(args, " "), r)
			}
		}
	}
	return a, b
}

// join puts a container of the spec in the host's network namespace.
func (h testHost) join(s *specs.Spec) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = filepath.Join("/run/netns", h.Netns)
		}
	}
}

// runcBackground starts a bundle's container with runc and returns a
// function that waits for it to finish.
func runcBackground(t *testing.T, b bundle) (wait func() result) {
	t.Helper()
	runc := requireTool(t, "runc")
	root := runcRoot(t)
	id := containerID("runc")
	t.Cleanup(func() { run(t, nil, runc, "--root", root, "delete", "--force", id) })
	done := make(chan result, 1)
	go func() {
		r, err := execute(nil, nil, runc, "--root", root, "run", "--bundle", b.Dir, id)
		if err != nil {
			r.Code, r.Stderr = -1, r.Stderr+err.Error()
		}
		done <- r
	}()
	return func() result { return <-done }
}

// pageServerPort is where criu page-server listens on host B.
const pageServerPort = "27027"

// TestCRIUMigration moves a running app from host A to host B.
func TestCRIUMigration(t *testing.T) {
	criu := requireCRIU(t)

	// criu dump on A sends the app's memory to criu page-server on B
	// over the veth; the other images travel as files would (scp). Both
	// containers are hardened and opted in with minimal; B's run under
	// Docker's default seccomp profile, and the restore runs the
	// preflight first.
	t.Run("memory through criu page-server then restore on B under Docker's seccomp", func(t *testing.T) {
		hostA, hostB := twoHosts(t)
		configPath, _ := writeConfig(t, "")
		onA, onB := imagesDir(t), imagesDir(t)
		ready := filepath.Join(onB, "page-server.ready")

		server := criuBundle(t, criu, onB, "sh", "-c",
			"criu page-server --unprivileged -D /ckpt --address "+hostB.Addr+" --port "+pageServerPort+
				" -o page-server.log -v4 --status-fd 3 3>/ckpt/page-server.ready; echo page-server=$?")
		server.Edit(t, func(s *specs.Spec) { hostB.join(s); s.Linux.Seccomp = dockerSeccomp(t, s) })
		grantByPatch(configPath, "minimal")(t, server)
		serverDone := runcBackground(t, server)
		// criu writes one byte to --status-fd once it listens.
		waitFor(t, "criu page-server to listen on host B", 30*time.Second, func() (bool, string) {
			st, err := os.Stat(ready)
			return err == nil && st.Size() > 0, fmt.Sprint(err)
		})

		dumper := criuBundle(t, criu, onA, "/bin/criu-dump")
		dumper.Edit(t, func(s *specs.Spec) {
			hostA.join(s)
			s.Process.Env = append(s.Process.Env, "CRIU_DUMP_ARGS=--page-server --address "+hostB.Addr+" --port "+pageServerPort)
		})
		grantByPatch(configPath, "minimal")(t, dumper)
		d := parseDump(t, runcRun(t, dumper))
		if d.Code != 0 {
			t.Fatalf("criu dump --page-server failed (%d):\n%s", d.Code, tail(criuLog(t, onA, "dump.log"), 3000))
		}
		if r := serverDone(); field(r.Stdout, "page-server") != "0" {
			t.Fatalf("criu page-server: %s\n%s", r, tail(criuLog(t, onB, "page-server.log"), 2000))
		}
		if log := criuLog(t, onB, "page-server.log"); !strings.Contains(log, "Accepted connection from "+hostA.Addr) {
			t.Errorf("the page server took no connection from host A:\n%s", tail(log, 2000))
		}
		pagesA, _ := filepath.Glob(filepath.Join(onA, "pages-*.img"))
		pagesB, _ := filepath.Glob(filepath.Join(onB, "pages-*.img"))
		if len(pagesA) != 0 || len(pagesB) == 0 {
			t.Fatalf("pages on A %v and on B %v; want none on A, all on B", pagesA, pagesB)
		}
		copied := copyMissing(t, onA, onB)
		t.Logf("memory over the network: %d page images on B; copied from A: %s", len(pagesB), strings.Join(copied, " "))

		restorer := criuBundle(t, criu, onB, "/bin/criu-restore", strconv.Itoa(d.App))
		restorer.Edit(t, func(s *specs.Spec) { hostB.join(s); s.Linux.Seccomp = dockerSeccomp(t, s) })
		grantByPatch(configPath, "minimal")(t, restorer)
		assertRestored(t, parseRestore(t, runcRun(t, restorer)), d, onB)
	})

	// No comma in this name: podman splits --hooks-dir at commas, and
	// t.TempDir's names come from the test's.
	t.Run("podman container checkpoint --export then restore --import into another store", func(t *testing.T) {
		podmanMigration(t, criu)
	})
}

// copyMissing copies each file of from that to lacks, as a user copies
// the non-memory images to the restore host, and returns their names.
func copyMissing(t *testing.T, from, to string) []string {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(to, e.Name())); err == nil || !e.Type().IsRegular() {
			continue
		}
		copyFile(t, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()), 0o644)
		mustDo(t, os.Chown(filepath.Join(to, e.Name()), 1000, 1000))
		names = append(names, e.Name())
	}
	return names
}

// podmanStore is a podman store of its own (root, runroot, tmpdir) in a
// test directory, standing for a host's; its containers, images and
// mounts go when the test ends.
func podmanStore(t *testing.T) []string {
	t.Helper()
	// podman refuses a runroot of more than 50 characters: a short name
	// of its own, not t.TempDir's.
	dir, err := os.MkdirTemp("", "crhook-store")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	store := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp")}
	t.Cleanup(func() {
		p := requireTool(t, "podman")
		execute(nil, nil, p, append(slices.Clone(store), "rm", "--all", "--force", "--time", "0")...)
		execute(nil, nil, p, append(slices.Clone(store), "rmi", "--all", "--force")...)
		// The overlay driver keeps its own mounts under root.
		mounts, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
		sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
		for _, m := range mounts {
			unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
		}
	})
	return store
}

// podmanMigration checkpoints an opted-in podman container in store A
// with --export and restores it with --import in store B, the image
// moved with podman save and load. podman's checkpoint runs criu as root
// through runc, and root's criu here lacks CAP_SYS_RESOURCE to read a
// uid 1000 task's rlimits (LAB.md), so the container runs as root, with
// no-new-privileges and podman's default seccomp profile.
func podmanMigration(t *testing.T, criu string) {
	criuDir := t.TempDir()
	mustDo(t, os.Symlink(criu, filepath.Join(criuDir, "criu")))
	// podman and runc find criu on PATH.
	env := []string{"PATH=" + criuDir + ":" + os.Getenv("PATH")}
	hooksDir, logPath := installPodmanHooks(t)
	globalA := append(podmanGlobal(hooksDir), podmanStore(t)...)
	globalB := append(podmanGlobal(hooksDir), podmanStore(t)...)
	image := importRootfsTo(t, globalA, func(string) {})
	archive := filepath.Join(t.TempDir(), "image.tar")
	if r := podman(t, append(slices.Clone(globalA), "save", "--output", archive, image)...); r.Code != 0 {
		t.Fatalf("podman save: %s", r)
	}
	if r := podman(t, append(slices.Clone(globalB), "load", "--input", archive)...); r.Code != 0 {
		t.Fatalf("podman load: %s", r)
	}

	name := containerID("podman")
	runArgs := append(append(slices.Clone(globalA), "run", "--detach", "--name", name), podmanRunFlags...)
	runArgs = append(runArgs, "--security-opt", "no-new-privileges",
		"--annotation", spec.AnnotationRestore+"=true", "--annotation", spec.AnnotationProfile+"=minimal",
		image, "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done")
	if r := podman(t, runArgs...); r.Code != 0 {
		t.Fatalf("podman run: %s", r)
	}
	assertPodmanGrant(t, globalA, name, 0)
	before := podmanCounter(t, globalA, name)

	exported := filepath.Join(t.TempDir(), "checkpoint.tar.gz")
	if r := runEnv(t, env, nil, requireTool(t, "podman"), append(slices.Clone(globalA), "container", "checkpoint", "--export", exported, name)...); r.Code != 0 {
		t.Fatalf("podman container checkpoint --export: %s", r)
	}
	logged := len(readLog(t, logPath))
	if r := runEnv(t, env, nil, requireTool(t, "podman"), append(slices.Clone(globalB), "container", "restore", "--import", exported)...); r.Code != 0 {
		t.Fatalf("podman container restore --import: %s", r)
	}
	id, restored, _ := strings.Cut(strings.TrimSpace(podman(t, append(slices.Clone(globalB), "inspect", "--format", "{{.Id}} {{.State.Restored}}", name)...).Stdout), " ")
	if restored != "true" {
		t.Errorf("podman does not call container %s in store B restored: %q", name, restored)
	}

	assertPodmanGrant(t, globalB, name, 0)
	after := podmanCounter(t, globalB, name)
	time.Sleep(300 * time.Millisecond)
	then := podmanCounter(t, globalB, name)
	if after < before || then <= after {
		t.Errorf("counter %d at checkpoint, %d and %d after the restore: the app did not go on", before, after, then)
	}
	// runc runs createRuntime hooks on restore, not poststart ones
	// (libcontainer/criu_linux.go, "setup-namespaces"): crhook checked
	// the restored container's config, and verify checks it live.
	var checked bool
	for _, l := range readLog(t, logPath)[logged:] {
		if l.Container == id && l.Stage == "createRuntime" {
			checked = l.Result == "ok"
		}
	}
	if !checked {
		t.Errorf("no crhook createRuntime check of the restored container %s in %s", id, logPath)
	}
	if r := podman(t, append(slices.Clone(globalB), "exec", name, "crhook", "verify")...); r.Code != 0 {
		t.Errorf("crhook verify in the restored container: %s", r)
	}
	t.Logf("counter %d at checkpoint, %d then %d after the restore into store B", before, after, then)
}

// podmanCounter reads the app's counter in the container.
func podmanCounter(t *testing.T, global []string, name string) int {
	t.Helper()
	var n int
	waitFor(t, "the counter in "+name, 10*time.Second, func() (bool, string) {
		r := podman(t, append(slices.Clone(global), "exec", name, "cat", "/tmp/counter")...)
		var err error
		n, err = strconv.Atoi(strings.TrimSpace(r.Stdout))
		return err == nil && n > 0, r.String()
	})
	return n
}
