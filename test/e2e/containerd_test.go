package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crhook/crhook/spec"
)

// containerd is a private containerd the test started: its own root,
// state and socket, stopped by PID when the test ends.
type containerd struct {
	Socket string
	Dir    string
}

// startContainerd starts containerd with configText and extra
// environment, and waits until its socket answers.
func startContainerd(t *testing.T, configText string, env ...string) containerd {
	t.Helper()
	requireRoot(t)
	bin := requireTool(t, "containerd")
	requireTool(t, "ctr")
	dir, err := os.MkdirTemp("", "crhook-containerd-")
	if err != nil {
		t.Fatal(err)
	}
	c := containerd{Socket: filepath.Join(dir, "containerd.sock"), Dir: dir}
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(configText), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", configPath, "--root", filepath.Join(dir, "root"),
		"--state", filepath.Join(dir, "state"), "--address", c.Socket)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("containerd log (tail):\n%s", tail(string(log), 3000))
			}
		}
		exec.Command("umount", "-R", filepath.Join(dir, "root")).Run()
		os.RemoveAll(dir)
	})
	waitFor(t, "containerd to serve", 30*time.Second, func() (bool, string) {
		r := run(t, nil, "ctr", "--address", c.Socket, "version")
		return r.Code == 0, r.String()
	})
	return c
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func (c containerd) ctr(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, "ctr", append([]string{"--address", c.Socket}, args...)...)
}

// importImageFrom copies a podman image into containerd, the way LAB.md
// measured: an OCI archive from podman save, then ctr images import.
func (c containerd) importImageFrom(t *testing.T, podmanImage, namespace string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	if r := podman(t, "save", "--format", "oci-archive", "-o", archive, podmanImage); r.Code != 0 {
		t.Fatalf("podman save: %s", r)
	}
	name, _, _ := strings.Cut(podmanImage, ":")
	if r := c.ctr(t, "--namespace", namespace, "images", "import", "--base-name", name, archive); r.Code != 0 {
		t.Fatalf("ctr images import: %s", r)
	}
	return podmanImage
}

// noCRI keeps the private containerd small for ctr tests.
const noCRI = "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"

// TestContainerdRuntimeShim: ctr run with crhook-runtime as the runc
// binary. The annotated uid 1000 container places a tree at chosen PIDs;
// the same image without the annotation gets EPERM; a refusal reaches
// the user through containerd, which reads it from the runtime's log.
func TestContainerdRuntimeShim(t *testing.T) {
	configPath, logPath := writeConfig(t, "")
	c := startContainerd(t, noCRI, "CRHOOK_RUNTIME="+requireTool(t, "runc"), "CRHOOK_CONFIG="+configPath)
	image := c.importImageFrom(t, importImage(t, "USER 1000"), "default")
	shimPath := runtimeLink(t)
	ctrRun := func(annotations []string, args ...string) result {
		cmd := []string{"run", "--rm", "--runc-binary", shimPath}
		for _, a := range annotations {
			cmd = append(cmd, "--annotation", a)
		}
		return c.ctr(t, append(append(cmd, image, containerID("ctr")), args...)...)
	}

	r := ctrRun([]string{spec.AnnotationRestore + "=true"}, verifyArgs...)
	rep := parseReport(t, r)
	if !rep.OK || rep.UID != 1000 || rep.Drill.Parent.Got != 500 {
		t.Fatalf("annotated container: %+v\n%s", rep, r)
	}
	if c := check(t, rep, "ns_last_pid"); !strings.Contains(c.Detail, "EROFS") {
		t.Errorf("ns_last_pid must stay read-only: %+v", c)
	}
	stages := map[string]int{}
	for _, l := range readLog(t, logPath) {
		stages[l.Stage]++
		if l.Result != "ok" {
			t.Errorf("log line: %+v", l)
		}
	}
	// The shim checks the config it wrote itself, so no createRuntime
	// hook runs; poststart checks the live container.
	if stages["runtime"] != 1 || stages["createRuntime"] != 0 || stages["poststart"] != 1 {
		t.Errorf("want one runtime and one poststart line, got %v", stages)
	}

	r = ctrRun(nil, verifyArgs...)
	if rep := parseReport(t, r); rep.OK || !strings.Contains(check(t, rep, "set_tid").Detail, "EPERM") {
		t.Fatalf("without the annotation the shim must grant nothing: %s", r)
	}

	r = ctrRun([]string{spec.AnnotationRestore + "=true", spec.AnnotationProfile + "=sysadmin"}, "echo", "container-ran")
	if r.Code == 0 || strings.Contains(r.Stdout, "container-ran") {
		t.Fatalf("a bad profile must stop the container: %s", r)
	}
	if !strings.Contains(r.Stderr, `profile "sysadmin" is not one of minimal, restore, checkpoint`) {
		t.Fatalf("containerd must show crhook-runtime's reason: %s", r)
	}
}
