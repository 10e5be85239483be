package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crhook/crhook/internal/proc"
	"github.com/crhook/crhook/internal/verify"
	"github.com/crhook/crhook/spec"
)

// TestPodmanHooksDir: with crhook installed into a hooks dir, podman's
// precreate stage grants the cap to an annotated uid 1000 container, the
// checks run, and nothing changes for containers without the annotation.
func TestPodmanHooksDir(t *testing.T) {
	image := importImage(t)
	hooksDir, logPath := installPodmanHooks(t)
	base := append(podmanGlobal(hooksDir), "run", "--rm")
	base = append(base, podmanRunFlags...)
	base = append(base, "--user", "1000")

	t.Run("annotated", func(t *testing.T) {
		r := podman(t, append(append(base, "--annotation", spec.AnnotationRestore+"=true", image), verifyArgs...)...)
		if r.Code != 0 {
			t.Fatalf("verify should pass: %s", r)
		}
		rep := parseReport(t, r)
		if !rep.OK || rep.Drill.Parent.Got != 500 || rep.UID != 1000 {
			t.Fatalf("report: %+v", rep)
		}
		if c := check(t, rep, "ns_last_pid"); !strings.Contains(c.Detail, "EROFS") {
			t.Errorf("ns_last_pid must stay read-only: %+v", c)
		}
		var stages []string
		for _, l := range readLog(t, logPath) {
			if l.Result != "ok" {
				t.Errorf("log line: %+v", l)
			}
			stages = append(stages, l.Stage)
		}
		for _, want := range []string{"precreate", "createRuntime", "poststart"} {
			if !slices.Contains(stages, want) {
				t.Errorf("stage %s did not run; logged %v", want, stages)
			}
		}
	})
	t.Run("not annotated", func(t *testing.T) {
		r := podman(t, append(append(base, image), verifyArgs...)...)
		if r.Code != 1 {
			t.Fatalf("verify should fail: %s", r)
		}
		if c := check(t, parseReport(t, r), "set_tid"); !strings.Contains(c.Detail, "EPERM") {
			t.Errorf("set_tid: %+v, want EPERM", c)
		}
	})
	t.Run("unmasked /proc/sys is refused", func(t *testing.T) {
		args := append(base, "--security-opt", "unmask=/proc/sys", "--annotation", spec.AnnotationRestore+"=true", image, "echo", "container-ran")
		r := podman(t, args...)
		if r.Code == 0 || strings.Contains(r.Stdout, "container-ran") {
			t.Fatalf("container must not start: %s", r)
		}
		if !strings.Contains(r.Stderr, "/proc/sys is writable") {
			t.Fatalf("podman's error must name /proc/sys: %s", r)
		}
	})
}

// TestPodmanStopStart: a crhook container stopped and started again
// still holds the cap, and /proc/sys is still read-only.
func TestPodmanStopStart(t *testing.T) {
	image := importImage(t)
	hooksDir, _ := installPodmanHooks(t)
	name := containerID("restart")
	global := podmanGlobal(hooksDir)
	args := append(append(global, "run", "-d", "--name", name), podmanRunFlags...)
	args = append(args, "--user", "1000", "--annotation", spec.AnnotationRestore+"=true", image, "sleep", "1000")
	if r := podman(t, args...); r.Code != 0 {
		t.Fatalf("podman run: %s", r)
	}
	t.Cleanup(func() { podman(t, append(global, "rm", "--force", "--time", "0", name)...) })
	assertLiveGrant(t, global, name)
	if r := podman(t, append(global, "stop", "--time", "0", name)...); r.Code != 0 {
		t.Fatalf("stop: %s", r)
	}
	if r := podman(t, append(global, "start", name)...); r.Code != 0 {
		t.Fatalf("start: %s", r)
	}
	assertLiveGrant(t, global, name)
}

// assertLiveGrant reads the running container's main process from the
// host: uid 1000 holding CAP_CHECKPOINT_RESTORE in the ambient set, and
// /proc/sys mounted read-only in its mount namespace.
func assertLiveGrant(t *testing.T, global []string, name string) {
	t.Helper()
	assertPodmanGrant(t, global, name, 1000)
}

// assertPodmanGrant reads podman container name's main process from the
// host: it runs as uid, holds CAP_CHECKPOINT_RESTORE effective and
// bounding (and ambient, as a non-root process keeps it only there), and
// sees /proc/sys mounted read-only in its mount namespace.
func assertPodmanGrant(t *testing.T, global []string, name string, uid uint32) {
	t.Helper()
	var pid int
	waitFor(t, "container "+name+" to run", 30*time.Second, func() (bool, string) {
		r := podman(t, append(slices.Clone(global), "inspect", "--format", "{{.State.Pid}}", name)...)
		pid, _ = strconv.Atoi(strings.TrimSpace(r.Stdout))
		return pid > 0, r.String()
	})
	st, err := proc.ReadStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	granted := proc.Has(st.Effective, spec.CapCheckpointRestoreNumber) && proc.Has(st.Bounding, spec.CapCheckpointRestoreNumber)
	if uid != 0 {
		granted = granted && proc.Has(st.Ambient, spec.CapCheckpointRestoreNumber)
	}
	if st.UID != uid || !granted {
		t.Fatalf("pid %d: %+v lacks the grant (want uid %d)", pid, st, uid)
	}
	mounts, err := proc.ReadMounts(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m := spec.VisibleMount(mounts, spec.ProcSys); m == nil || !spec.ReadOnly(m) {
		t.Fatalf("pid %d: /proc/sys is not read-only: %+v", pid, m)
	}
}

// TestPodmanRuntimeShim: podman --runtime crhook-runtime, no hooks dir.
func TestPodmanRuntimeShim(t *testing.T) {
	image := importImage(t)
	shimPath := runtimeLink(t)
	base := []string{"--cgroup-manager=cgroupfs", "--runtime", shimPath, "run", "--rm"}
	base = append(append(base, podmanRunFlags...), "--user", "1000")
	r := podman(t, append(append(base, "--annotation", spec.AnnotationRestore+"=true", image), verifyArgs...)...)
	if r.Code != 0 {
		t.Fatalf("verify should pass through the shim: %s", r)
	}
	if rep := parseReport(t, r); !rep.OK || rep.Drill.Parent.Got != 500 {
		t.Fatalf("report: %+v", rep)
	}
	r = podman(t, append(append(base, image), verifyArgs...)...)
	if r.Code != 1 || check(t, parseReport(t, r), "set_tid").Status != verify.StatusFail {
		t.Fatalf("without the annotation the shim must grant nothing: %s", r)
	}
}
