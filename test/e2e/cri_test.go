package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crhook/crhook/internal/proc"
	"github.com/crhook/crhook/internal/verify"
	"github.com/crhook/crhook/spec"
)

// kubelet fills these in for every container (k8s.io/kubernetes
// pkg/securitycontext); containerd does not. A CRI client that leaves
// them out gets a writable /proc/sys.
var (
	kubeletMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	kubeletReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// criBaseConfig is what LAB.md measured containerd's CRI needs here:
// restrict_oom_score_adj (no CAP_SYS_RESOURCE), a local sandbox image, and
// a private runc root for the default handler. crhook install appends its
// runtime entry to this file.
const criBaseConfig = `version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = %q
`

// criTest is a containerd serving CRI with crhook installed as the
// "crhook" runtime handler, and a client that talks to it as kubelet does.
type criTest struct {
	c       containerd
	rt      cri.RuntimeServiceClient
	image   string
	logPath string
	logDir  string
}

func newCRITest(t *testing.T) *criTest {
	t.Helper()
	return newCRITestWith(t, "", func(string) {})
}

// newCRITestWith is newCRITest with extra admin settings, extra files
// in the image, and extra crhook install flags.
func newCRITestWith(t *testing.T, adminConfig string, extra func(rootfs string), installFlags ...string) *criTest {
	t.Helper()
	requireRoot(t)
	// The sandbox (pause) image must keep running.
	image := importRootfs(t, extra, `CMD ["/bin/sleep","1000000"]`)
	configPath, logPath := writeConfig(t, adminConfig)
	dir := t.TempDir()
	engineConfig := filepath.Join(dir, "containerd.toml")
	base := fmt.Sprintf(criBaseConfig, image, filepath.Join(dir, "runc-default"))
	if err := os.WriteFile(engineConfig, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := crhook(t, nil, append([]string{"install", "--for", "containerd", "--engine-config", engineConfig, "--config", configPath, "--record", filepath.Join(t.TempDir(), "install-record.json")}, installFlags...)...); r.Code != 0 {
		t.Fatalf("crhook install --for containerd: %s", r)
	}
	text, err := os.ReadFile(engineConfig)
	if err != nil {
		t.Fatal(err)
	}
	c := startContainerd(t, string(text), "CRHOOK_RUNTIME="+requireTool(t, "runc"), "CRHOOK_CONFIG="+configPath)
	c.importImageFrom(t, image, "k8s.io")
	conn, err := grpc.NewClient("unix://"+c.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &criTest{c: c, rt: cri.NewRuntimeServiceClient(conn), image: image, logPath: logPath, logDir: t.TempDir()}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pod describes one pod the test runs.
type pod struct {
	name     string
	handler  string
	readonly []string
	// unconfined runs without the runtime's default seccomp profile.
	unconfined bool
	// annotations on the pod; nil opts it in with the default profile.
	annotations map[string]string
	mounts      []*cri.Mount
	addCaps     []string
}

// runPod runs the pod with one container running command as uid 1000,
// all capabilities dropped, no new privileges, the runtime's default
// seccomp profile (unless unconfined), and the opt-in annotation on the
// pod. It returns the
// container's log and whether it started.
func (ct *criTest) runPod(t *testing.T, p pod, command ...string) (log string, startErr error) {
	t.Helper()
	id, err := ct.startPod(t, p, command...)
	if err != nil {
		return "", err
	}
	ctx := ctxFor(t)
	waitFor(t, p.name+" to exit", time.Minute, func() (bool, string) {
		st, err := ct.rt.ContainerStatus(ctx, &cri.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			return false, err.Error()
		}
		return st.Status.State == cri.ContainerState_CONTAINER_EXITED, st.Status.State.String()
	})
	data, err := os.ReadFile(filepath.Join(ct.logDir, p.name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return criLogContent(string(data)), nil
}

// startPod starts the pod's container and returns its id.
func (ct *criTest) startPod(t *testing.T, p pod, command ...string) (string, error) {
	t.Helper()
	ctx := ctxFor(t)
	annotations := p.annotations
	if annotations == nil {
		annotations = map[string]string{spec.AnnotationRestore: "true"}
	}
	node := &cri.NamespaceOption{Network: cri.NamespaceMode_NODE, Pid: cri.NamespaceMode_CONTAINER, Ipc: cri.NamespaceMode_POD}
	sandboxConfig := &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: p.name, Uid: p.name + "-uid", Namespace: "default"},
		LogDirectory: ct.logDir,
		Annotations:  annotations,
		Linux: &cri.LinuxPodSandboxConfig{SecurityContext: &cri.LinuxSandboxSecurityContext{
			NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE, Pid: cri.NamespaceMode_POD, Ipc: cri.NamespaceMode_POD},
		}},
	}
	sandbox, err := ct.rt.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: sandboxConfig, RuntimeHandler: p.handler})
	if err != nil {
		t.Fatalf("RunPodSandbox %s: %v", p.name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ct.rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: sandbox.PodSandboxId})
		ct.rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: sandbox.PodSandboxId})
	})
	seccomp := &cri.SecurityProfile{ProfileType: cri.SecurityProfile_RuntimeDefault}
	if p.unconfined {
		seccomp = &cri.SecurityProfile{ProfileType: cri.SecurityProfile_Unconfined}
	}
	logName := p.name + ".log"
	created, err := ct.rt.CreateContainer(ctx, &cri.CreateContainerRequest{
		PodSandboxId:  sandbox.PodSandboxId,
		SandboxConfig: sandboxConfig,
		Config: &cri.ContainerConfig{
			Metadata: &cri.ContainerMetadata{Name: "app"},
			Image:    &cri.ImageSpec{Image: ct.image},
			Command:  command,
			LogPath:  logName,
			Mounts:   p.mounts,
			Linux: &cri.LinuxContainerConfig{SecurityContext: &cri.LinuxContainerSecurityContext{
				RunAsUser:        &cri.Int64Value{Value: 1000},
				Capabilities:     &cri.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: p.addCaps},
				NoNewPrivs:       true,
				NamespaceOptions: node,
				MaskedPaths:      kubeletMaskedPaths,
				ReadonlyPaths:    p.readonly,
				Seccomp:          seccomp,
			}},
		},
	})
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", p.name, err)
	}
	if _, err := ct.rt.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		return "", err
	}
	return created.ContainerId, nil
}

// criLogContent strips the CRI log prefix ("TIME STREAM TAG ") from each
// line and joins the stdout lines.
func criLogContent(raw string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		parts := strings.SplitN(line, " ", 4)
		if len(parts) == 4 && parts[1] == "stdout" {
			out = append(out, parts[3])
		}
	}
	return strings.Join(out, "\n")
}

// TestKubernetesCRI drives containerd over CRI as kubelet would.
func TestKubernetesCRI(t *testing.T) {
	ct := newCRITest(t)

	log, err := ct.runPod(t, pod{name: "granted", handler: "crhook", readonly: kubeletReadonlyPaths}, verifyArgs...)
	if err != nil {
		t.Fatalf("StartContainer under the crhook handler: %v", err)
	}
	rep := criReport(t, log)
	if !rep.OK || rep.UID != 1000 || rep.Drill.Parent.Got != 500 {
		t.Fatalf("crhook handler: %+v", rep)
	}
	for name, want := range map[string]string{"capabilities": "ambient", "proc_sys_readonly": "read-only", "ns_last_pid": "EROFS", "seccomp_clone3": "reaches the kernel"} {
		if c := check(t, rep, name); !strings.Contains(c.Detail, want) {
			t.Errorf("%s: %+v, want %q", name, c, want)
		}
	}
	ct.assertSandboxGetsNothing(t)

	// Under the default handler, containerd's default seccomp profile
	// stops clone3 first (ENOSYS); without it the kernel says EPERM.
	for _, p := range []struct {
		pod  pod
		want string
	}{
		{pod{name: "default-handler", readonly: kubeletReadonlyPaths}, "ENOSYS"},
		{pod{name: "default-handler-unconfined", readonly: kubeletReadonlyPaths, unconfined: true}, "EPERM"},
	} {
		log, err = ct.runPod(t, p.pod, verifyArgs...)
		if err != nil {
			t.Fatalf("StartContainer %s: %v", p.pod.name, err)
		}
		if rep := criReport(t, log); rep.OK || !strings.Contains(check(t, rep, "set_tid").Detail, p.want) {
			t.Fatalf("%s must fail with %s: %+v", p.pod.name, p.want, rep)
		}
	}

	_, err = ct.runPod(t, pod{name: "no-readonly-paths", handler: "crhook"}, "echo", "container-ran")
	if err == nil || !strings.Contains(err.Error(), "/proc/sys is writable") {
		t.Fatalf("a pod without kubelet's read-only paths must be refused naming /proc/sys, got %v", err)
	}
}

func criReport(t *testing.T, log string) verify.Report {
	t.Helper()
	var rep verify.Report
	if err := json.Unmarshal([]byte(log), &rep); err != nil {
		t.Fatalf("no verify report in the container log: %v\n%s", err, log)
	}
	return rep
}

// assertSandboxGetsNothing: pod annotations reach the pause container
// too; the shim logged it as not opted in, and its process holds no
// CAP_CHECKPOINT_RESTORE.
func (ct *criTest) assertSandboxGetsNothing(t *testing.T) {
	t.Helper()
	var sandboxLines, appLines int
	for _, l := range readLog(t, ct.logPath) {
		if l.Stage != "runtime" {
			continue
		}
		if l.OptedIn {
			appLines++
		} else {
			sandboxLines++
		}
	}
	if sandboxLines == 0 || appLines == 0 {
		t.Errorf("want the shim to log the sandbox (not opted in) and the app (opted in): %d, %d", sandboxLines, appLines)
	}
	r := ct.c.ctr(t, "--namespace", "k8s.io", "tasks", "ls")
	for _, line := range strings.Split(r.Stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "RUNNING" {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		st, err := proc.ReadStatus(pid)
		if err != nil {
			continue
		}
		if proc.Has(st.Effective|st.Permitted|st.Bounding|st.Ambient, spec.CapCheckpointRestoreNumber) {
			t.Errorf("running task %s (pid %d) holds CAP_CHECKPOINT_RESTORE; only the exited app may", f[0], pid)
		}
	}
}

// TestKubernetesRuntimeClassOptIn: with crhook install --for containerd
// --profile minimal, the RuntimeClass is the opt-in by itself: a pod with
// no crhook annotation under handler crhook is granted, one that says
// io.crhook.restore=false is not, and the sandbox gets nothing.
func TestKubernetesRuntimeClassOptIn(t *testing.T) {
	ct := newCRITestWith(t, "", func(string) {}, "--profile", "minimal")
	log, err := ct.runPod(t, pod{name: "class-opt-in", handler: "crhook", readonly: kubeletReadonlyPaths, annotations: map[string]string{}}, verifyArgs...)
	if err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if rep := criReport(t, log); !rep.OK || rep.Drill.Parent.Got != 500 {
		t.Fatalf("a pod of the crhook RuntimeClass must be granted without annotations: %+v", rep)
	}
	log, err = ct.runPod(t, pod{name: "class-opt-out", handler: "crhook", readonly: kubeletReadonlyPaths,
		annotations: map[string]string{spec.AnnotationRestore: "false"}}, verifyArgs...)
	if err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if rep := criReport(t, log); rep.OK {
		t.Fatalf("io.crhook.restore=false must opt out: %+v", rep)
	}
	ct.assertSandboxGetsNothing(t)

	// kubectl exec: the exec'd process gets the grant as well.
	id, err := ct.startPod(t, pod{name: "class-exec", handler: "crhook", readonly: kubeletReadonlyPaths, annotations: map[string]string{}}, "sleep", "1000")
	if err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	res, err := ct.rt.ExecSync(ctxFor(t), &cri.ExecSyncRequest{ContainerId: id, Cmd: verifyArgs, Timeout: 30})
	if err != nil {
		t.Fatalf("ExecSync: %v", err)
	}
	if rep := criReport(t, string(res.Stdout)); res.ExitCode != 0 || !rep.OK || rep.UID != 1000 {
		t.Fatalf("an exec'd crhook verify (kubectl exec) must be granted: exit %d, %+v\n%s", res.ExitCode, rep, res.Stderr)
	}
}
