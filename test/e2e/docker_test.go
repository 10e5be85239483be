package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerd is a private Docker engine the test started (LAB.md): its own
// data and exec roots and socket, no bridge or iptables, stopped by the
// PID in its pidfile. It never touches a system dockerd or its files.
type dockerd struct {
	Dir, Config string
	cmd         *exec.Cmd
	env         []string
}

// newDockerd prepares a private engine whose daemon.json is config.
func newDockerd(t *testing.T, config string, env ...string) *dockerd {
	t.Helper()
	requireRoot(t)
	requireTool(t, "dockerd")
	requireTool(t, "docker")
	dir, err := os.MkdirTemp("", "crhook-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{Dir: dir, Config: filepath.Join(dir, "daemon.json"), env: env}
	mustDo(t, os.WriteFile(d.Config, []byte(config), 0o644))
	t.Cleanup(func() {
		d.stop(t)
		for _, sub := range []string{"exec", "root"} {
			exec.Command("umount", "-R", filepath.Join(dir, sub)).Run()
		}
		os.RemoveAll(dir)
	})
	return d
}

func (d *dockerd) sock() string { return filepath.Join(d.Dir, "sock") }

// start runs dockerd and waits until it answers.
func (d *dockerd) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(d.Dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("dockerd", "--data-root", filepath.Join(d.Dir, "root"), "--exec-root", filepath.Join(d.Dir, "exec"),
		"--pidfile", filepath.Join(d.Dir, "pid"), "-H", "unix://"+d.sock(), "--bridge=none", "--iptables=false", "--ip6tables=false",
		"--storage-driver", "vfs", "--config-file", d.Config)
	d.cmd.Env = append(os.Environ(), d.env...)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log.Close()
	waitFor(t, "dockerd to answer", 60*time.Second, func() (bool, string) {
		r := d.docker(t, "version")
		return r.Code == 0, r.String() + "\n" + tail(readFileOr(filepath.Join(d.Dir, "dockerd.log")), 1500)
	})
}

// stop ends dockerd by its PID and waits for it.
func (d *dockerd) stop(t *testing.T) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
	if t.Failed() {
		t.Logf("dockerd log (tail):\n%s", tail(readFileOr(filepath.Join(d.Dir, "dockerd.log")), 3000))
	}
}

func (d *dockerd) docker(t *testing.T, args ...string) result {
	t.Helper()
	return runEnv(t, []string{"DOCKER_HOST=unix://" + d.sock()}, nil, "docker", args...)
}

// importImage loads a busybox rootfs with crhook as an image (no registry).
func (d *dockerd) importImage(t *testing.T) string {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	makeRootfs(t, rootfs)
	name := "crhook-e2e:" + strconv.Itoa(os.Getpid())
	r := runEnv(t, []string{"DOCKER_HOST=unix://" + d.sock()}, nil, "sh", "-c", `tar -C "$1" -c . | docker import - "$2"`, "import", rootfs, name)
	if r.Code != 0 {
		t.Fatalf("docker import: %s", r)
	}
	return name
}

func readFileOr(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// TestDocker drives Debian's Docker engine (20.10, API 1.41: no
// annotations reach a runtime) with crhook installed by crhook install:
// choosing --runtime crhook is the opt-in.
func TestDocker(t *testing.T) {
	configPath, _ := writeConfig(t, "")
	base := "{\n    \"debug\": false,\n    \"log-level\": \"warn\"\n}\n"
	record := filepath.Join(t.TempDir(), "install-record.json")
	d := newDockerd(t, base, "CRHOOK_CONFIG="+configPath, "CRHOOK_RUNTIME="+requireTool(t, "runc"))
	d.start(t)
	image := d.importImage(t)
	hardened := []string{"--rm", "--network", "none", "--user", "1000", "--security-opt", "no-new-privileges"}

	if r := d.docker(t, append(append([]string{"run", "--runtime", "crhook"}, hardened...), image, "true")...); r.Code == 0 || !strings.Contains(r.Stderr, "crhook") {
		t.Fatalf("before install, the runtime must be unknown: %s", r)
	}
	if r := crhook(t, nil, "install", "--for", "docker", "--engine-config", d.Config, "--config", configPath, "--record", record); r.Code != 0 {
		t.Fatalf("install: %s", r)
	}
	t.Run("a restart picks the runtime up from daemon.json alone", func(t *testing.T) {
		d.stop(t)
		d.start(t)
		if r := d.docker(t, "info", "--format", "{{json .Runtimes}}"); !strings.Contains(r.Stdout, `"crhook"`) || !strings.Contains(r.Stdout, "crhook-runtime-minimal") {
			t.Fatalf("dockerd does not list the crhook runtime: %s", r)
		}
	})
	t.Run("--runtime crhook opts in", func(t *testing.T) { d.assertOptInGrants(t, image, hardened) })
	t.Run("the default runtime grants nothing", func(t *testing.T) {
		r := d.docker(t, append(append([]string{"run"}, hardened...), append([]string{image}, verifyArgs...)...)...)
		if r.Code != 1 {
			t.Fatalf("verify under runc must fail: %s", r)
		}
		if c := check(t, parseReport(t, r), "set_tid"); !strings.Contains(c.Detail, "ENOSYS") {
			t.Errorf("Docker's seccomp profile returns ENOSYS for clone3: %+v", c)
		}
	})
	t.Run("--privileged under crhook is refused naming /proc/sys", func(t *testing.T) {
		r := d.docker(t, append(append([]string{"run", "--runtime", "crhook", "--privileged"}, hardened...), image, "echo", "container-ran")...)
		if r.Code == 0 || strings.Contains(r.Stdout, "container-ran") {
			t.Fatalf("a privileged container must not start: %s", r)
		}
		if !strings.Contains(r.Stderr, "/proc/sys is writable") || !strings.Contains(r.Stderr, "crhook-runtime") {
			t.Fatalf("Docker's error must carry crhook's reason: %s", r)
		}
	})
	t.Run("docker exec, stop and start keep the grant", func(t *testing.T) { d.assertExecKeepsGrant(t, image, hardened) })
	t.Run("install then uninstall leaves daemon.json as it was", func(t *testing.T) {
		if r := crhook(t, nil, "uninstall", "--for", "docker", "--engine-config", d.Config, "--record", record); r.Code != 0 {
			t.Fatalf("uninstall: %s", r)
		}
		if got := readFile(t, d.Config); got != base {
			t.Fatalf("daemon.json changed:\nbefore %q\nafter  %q", base, got)
		}
	})
	t.Run("creates and execs are logged, each with what it added", func(t *testing.T) {
		assertDockerGrantsLogged(t, filepath.Join(filepath.Dir(configPath), "crhook.log"))
	})
}

// assertOptInGrants runs verify under --runtime crhook: it must pass as
// uid 1000, place the children at the PIDs asked for and find
// ns_last_pid still read-only.
func (d *dockerd) assertOptInGrants(t *testing.T, image string, hardened []string) {
	t.Helper()
	r := d.docker(t, append(append([]string{"run", "--runtime", "crhook"}, hardened...), append([]string{image}, verifyArgs...)...)...)
	if r.Code != 0 {
		t.Fatalf("verify under --runtime crhook: %s", r)
	}
	rep := parseReport(t, r)
	if rep.UID != 1000 {
		t.Fatalf("verify ran as uid %d, want 1000", rep.UID)
	}
	assertTreePlaced(t, rep)
}

// assertExecKeepsGrant: verify run by docker exec in a crhook container
// must pass after run and again after a stop and start.
func (d *dockerd) assertExecKeepsGrant(t *testing.T, image string, hardened []string) {
	t.Helper()
	name := containerID("docker")
	run := append([]string{"run", "-d", "--name", name, "--runtime", "crhook"}, hardened[1:]...)
	if r := d.docker(t, append(run, image, "sleep", "1000")...); r.Code != 0 {
		t.Fatalf("docker run -d: %s", r)
	}
	t.Cleanup(func() { d.docker(t, "rm", "--force", name) })
	execVerify := func(when string) {
		r := d.docker(t, append([]string{"exec", name}, verifyArgs...)...)
		if r.Code != 0 || !parseReport(t, r).OK {
			t.Fatalf("docker exec crhook verify %s: %s", when, r)
		}
	}
	execVerify("after run")
	if r := d.docker(t, "stop", "--time", "0", name); r.Code != 0 {
		t.Fatalf("stop: %s", r)
	}
	if r := d.docker(t, "start", name); r.Code != 0 {
		t.Fatalf("start: %s", r)
	}
	execVerify("after stop and start")
}

// assertDockerGrantsLogged: crhook's log at logPath must hold the
// opted-in creates and both execs, each with the grant it added.
func assertDockerGrantsLogged(t *testing.T, logPath string) {
	t.Helper()
	var creates, execs int
	for _, l := range readLog(t, logPath) {
		switch {
		case l.Stage == "runtime" && l.OptedIn && l.Profile == "minimal":
			creates++
		case l.Stage == "exec" && l.OptedIn && strings.Contains(strings.Join(l.Changes, " "), "exec: added CAP_CHECKPOINT_RESTORE"):
			execs++
		}
	}
	if creates == 0 || execs < 2 {
		t.Errorf("logged %d opted-in creates and %d execs that got the grant; want creates and both execs", creates, execs)
	}
}
