package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Opt-in annotations, as spec names them; the benchmarks drive engines
// from the outside and spell them out.
const (
	annotationRestore = "io.crhook.restore"
	benchImage        = "localhost/crhook-bench"
	benchNamespace    = "crhook-bench"
)

// engineVariant is one of figure 4's five ways to run a container.
const (
	enginePlain = iota
	// engineCFloor is the floor for any shim at all: a static C program
	// that only execs runc. What it adds is the exec itself.
	engineCFloor
	// engineGoFloor is the floor for any shim written in Go: execshim.
	// What it adds above engineCFloor is the Go runtime's start.
	engineGoFloor
	engineNotOptedIn
	engineOptedIn
	engineVariants
)

var engineVariantNames = [engineVariants]string{"plain runc", "C exec shim", "Go exec shim (floor)", "crhook-runtime, not opted in", "crhook-runtime, opted in"}

// engineLab is what figure 4 runs engines with: one rootfs as an image,
// crhook's runtime links, an admin config whose runtime is the runc the
// plain variant runs, and a log to count crhook's work in.
type engineLab struct {
	c    Config
	dir  string
	runc string
	// shim is crhook-runtime: containers opt in by annotation.
	shim string
	// shimMinimal is crhook-runtime-minimal: every container of the
	// runtime opts in (Docker, which cannot annotate).
	shimMinimal string
	// execShim is execshim, linked to exec runc: the floor.
	execShim string
	// cExecShim is cExecShimSource built to exec runc.
	cExecShim string
	env       []string
	logPath   string
	layer     []byte
	archive   string
}

func newEngineLab(c Config, runc string) (*engineLab, error) {
	dir := filepath.Join(c.Dir, "engines")
	rootfs := filepath.Join(dir, "rootfs")
	if err := makeRootfs(rootfs); err != nil {
		return nil, err
	}
	if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", "sleep")); err != nil {
		return nil, fmt.Errorf("link sleep: %w", err)
	}
	l := &engineLab{c: c, dir: dir, runc: runc, shim: filepath.Join(dir, "bin", "crhook-runtime"), shimMinimal: filepath.Join(dir, "bin", "crhook-runtime-minimal")}
	if err := os.MkdirAll(filepath.Dir(l.shim), 0o755); err != nil {
		return nil, err
	}
	for _, link := range []string{l.shim, l.shimMinimal} {
		if err := os.Symlink(c.Bin.Hook, link); err != nil {
			return nil, fmt.Errorf("link crhook-runtime: %w", err)
		}
	}
	l.execShim = filepath.Join(dir, "bin", "execshim")
	if err := goBuild(filepath.Join(c.Checkout, "bench"), l.execShim, "./execshim", "-ldflags=-X main.runc="+runc); err != nil {
		return nil, err
	}
	l.cExecShim = filepath.Join(dir, "bin", "cexecshim")
	if err := buildCExecShim(l.cExecShim, runc); err != nil {
		return nil, err
	}
	// The runtime in the admin config, as an install on a node has it:
	// the shim then reads the config on every call, as it does there.
	l.logPath = filepath.Join(dir, "crhook.log")
	configPath := filepath.Join(dir, "crhook.toml")
	if err := os.WriteFile(configPath, fmt.Appendf(nil, "log_file = %q\nruntime = %q\n", l.logPath, runc), 0o644); err != nil {
		return nil, fmt.Errorf("write crhook config: %w", err)
	}
	l.env = []string{"CRHOOK_CONFIG=" + configPath}
	var err error
	if l.layer, err = layerTar(rootfs); err != nil {
		return nil, err
	}
	archive, err := ociArchive(l.layer, imageConfig{User: "1000", Cmd: []string{"/bin/sleep", "1000000"}})
	if err != nil {
		return nil, fmt.Errorf("make the image: %w", err)
	}
	l.archive = filepath.Join(dir, "image.tar")
	if err := os.WriteFile(l.archive, archive, 0o644); err != nil {
		return nil, fmt.Errorf("write the image: %w", err)
	}
	return l, nil
}

// cExecShimSource is the C exec floor: it execs RUNC with its own
// arguments and does nothing else, as execshim does in Go.
const cExecShimSource = `#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
	(void)argc;
	argv[0] = RUNC;
	execv(RUNC, argv);
	perror("cexecshim: exec " RUNC);
	return 127;
}
`

// buildCExecShim builds cExecShimSource, static, to exec runc.
func buildCExecShim(out, runc string) error {
	src := out + ".c"
	if err := os.WriteFile(src, []byte(cExecShimSource), 0o644); err != nil {
		return fmt.Errorf("write the C exec shim: %w", err)
	}
	cmd := exec.Command("gcc", "-static", "-O2", "-o", out, "-DRUNC="+strconv.Quote(runc), src)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the C exec shim (gcc, libc6-dev): %w: %s", err, bytes.TrimSpace(output))
	}
	return nil
}

// EnginePath is figure 4: a container's whole life through the engines
// that run crhook's runtime shim, with plain runc, and with
// crhook-runtime for a container that did not opt in and one that did:
// containerd (`ctr run --rm`), a CRI pod as kubelet drives one, and
// Docker (`docker run --rm`). Every runtime call of the engine goes
// through the shim: create, start, delete, and for a pod its sandbox's.
func EnginePath(c Config) (Figure, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return Figure{}, fmt.Errorf("runc is not installed (apt-get install runc): %w", err)
	}
	lab, err := newEngineLab(c, runc)
	if err != nil {
		return Figure{}, err
	}
	walls := map[string][engineVariants][]float64{}
	if err := lab.withContainerd(func(cd *containerd) error {
		ctr, err := lab.measure("ctr run --rm", cd.ctrVariants(lab))
		if err != nil {
			return err
		}
		walls["ctr run --rm"] = ctr
		variants, err := cd.criVariants(lab)
		if err != nil {
			return err
		}
		pod, err := lab.measure("CRI pod", variants)
		walls["CRI pod"] = pod
		return err
	}); err != nil {
		return Figure{}, err
	}
	if err := lab.withDockerd(func(dk *dockerd) error {
		docker, err := lab.measure("docker run --rm", dk.variants(lab))
		walls["docker run --rm"] = docker
		return err
	}); err != nil {
		return Figure{}, err
	}
	notes, err := engineLogNotes(lab.logPath, 3*(c.Pairs+1))
	if err != nil {
		return Figure{}, err
	}
	return engineFigure(c, walls, notes), nil
}

// measure runs the variants in interleaved rounds after one
// warm-up each, and returns their walls in milliseconds.
func (l *engineLab) measure(what string, variants [engineVariants]func() error) ([engineVariants][]float64, error) {
	var walls [engineVariants][]float64
	for pair := -1; pair < l.c.Pairs; pair++ {
		for _, i := range order(max(pair, 0), engineVariants) {
			start := time.Now()
			if err := variants[i](); err != nil {
				return walls, fmt.Errorf("%s, %s: %w", what, engineVariantNames[i], err)
			}
			if pair >= 0 { // pair -1 warms up
				walls[i] = append(walls[i], float64(time.Since(start))/float64(time.Millisecond))
			}
		}
	}
	l.c.logf("engines: %s, %d rounds done", what, l.c.Pairs)
	return walls, nil
}

// engineTargets: what crhook may add to a container's life.
var engineTargets = [engineVariants]Target{engineNotOptedIn: atMost(1.02), engineOptedIn: atMost(1.05)}

func engineFigure(c Config, walls map[string][engineVariants][]float64, notes []string) Figure {
	var rows []Row
	for _, engine := range []string{"ctr run --rm", "CRI pod", "docker run --rm"} {
		w := walls[engine]
		for i := range engineVariants {
			rows = append(rows, medianRow(engine+": "+engineVariantNames[i], w[i], "ms"))
		}
		rows = append(rows,
			medianRow(engine+": C exec shim / plain runc", ratios(w[engineCFloor], w[enginePlain]), "x"),
			medianRow(engine+": Go exec shim (floor) / plain runc", ratios(w[engineGoFloor], w[enginePlain]), "x"))
		for _, i := range []int{engineNotOptedIn, engineOptedIn} {
			rows = append(rows, checkedMedian(engine+": "+engineVariantNames[i]+" / plain runc", ratios(w[i], w[enginePlain]), "x", engineTargets[i]))
		}
		for _, i := range []int{engineNotOptedIn, engineOptedIn} {
			rows = append(rows, medianRow(engine+": "+engineVariantNames[i]+" / Go exec floor", ratios(w[i], w[engineGoFloor]), "x"))
		}
		rows = append(rows,
			medianRow(engine+": Go exec floor above plain runc", differences(w[engineGoFloor], w[enginePlain]), "ms"),
			medianRow(engine+": opted in above plain runc", differences(w[engineOptedIn], w[enginePlain]), "ms"))
	}
	notes = append(notes,
		"plain runc: the engine's runc runtime with runc's own binary; crhook-runtime: the same runtime with crhook-runtime as its binary, which execs that runc",
		"Go exec floor: the same runtime with execshim as its binary, a static Go program that execs that runc at once and does nothing else: the least any runtime shim written in Go costs each runtime call",
		"C exec shim: the same with a static C program that does only that: what the exec of a shim costs; the Go floor's share above it is the Go runtime's start",
		"versions: "+engineVersion("containerd", "--version")+"; "+engineVersion("dockerd", "--version"),
		"ctr: `ctr run --rm --seccomp` of `true`, uid 1000; opted in with the annotation io.crhook.restore=true",
		"CRI pod: RunPodSandbox, CreateContainer of `true` (uid 1000, all capabilities dropped, no_new_privs, RuntimeDefault seccomp, kubelet's masked and read-only paths), StartContainer, wait for its exit, StopPodSandbox, RemovePodSandbox; opted in with the pod annotation; the sandbox goes through the same runtime and never opts in",
		"Docker: `docker run --rm --network none --user 1000 --security-opt no-new-privileges` of `true`; opted in by the runtime (crhook-runtime-minimal), as Docker cannot annotate")
	return Figure{
		Title: "4. The engine path: a container's whole life through crhook-runtime",
		Setup: fmt.Sprintf("containerd and dockerd started privately; %d rounds of %d runs per engine, order reversed every other round", c.Pairs, engineVariants),
		Rows:  rows,
		Notes: notes,
	}
}

// engineVersion is the first line a program prints for args, or "".
func engineVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "(version unknown)"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}

// engineLogNotes checks in crhook's log that every opted-in run was
// granted and checked: one runtime line opted in and one poststart line
// per opted-in container, all ok.
func engineLogNotes(logPath string, optedIn int) ([]string, error) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil, fmt.Errorf("read crhook log: %w", err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l struct {
			Stage   string `json:"stage"`
			Result  string `json:"result"`
			OptedIn bool   `json:"opted_in"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			return nil, fmt.Errorf("crhook log line %q: %w", line, err)
		}
		if l.Result != "ok" {
			return nil, fmt.Errorf("crhook log: %s %s", l.Stage, line)
		}
		if l.OptedIn {
			counts[l.Stage]++
		}
	}
	note := fmt.Sprintf("crhook's log: %d opted-in containers, each granted and checked in the shim (runtime ok %d times) and live (poststart ok %d times)",
		optedIn, counts["runtime"], counts["poststart"])
	if counts["runtime"] != optedIn || counts["poststart"] != optedIn {
		note += fmt.Sprintf("; want %d of each", optedIn)
	}
	return []string{note}, nil
}

// containerd is figure 4's private containerd, serving ctr and CRI.
type containerd struct {
	*daemon
	socket string
}

// withContainerd starts containerd with CRI's runc handler and crhook's,
// imports the image into the namespaces ctr and CRI use, and runs f.
func (l *engineLab) withContainerd(f func(*containerd) error) error {
	dir := filepath.Join(l.dir, "containerd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root := filepath.Join(dir, "runc-root")
	config := fmt.Sprintf(`version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%s:latest"
  restrict_oom_score_adj = true
`, benchImage) +
		criRuntime("runc", l.runc, root, false) +
		criRuntime("crhook", l.shim, root, true) +
		criRuntime("goexec", l.execShim, root, false) +
		criRuntime("cexec", l.cExecShim, root, false)
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	cd := &containerd{socket: filepath.Join(dir, "containerd.sock")}
	d, err := startDaemon("containerd", dir, l.env, func() error { return cd.ctr("version") }, "containerd",
		"--config", configPath, "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--address", cd.socket)
	if err != nil {
		return err
	}
	cd.daemon = d
	defer d.stop()
	for _, ns := range []string{benchNamespace, "k8s.io"} {
		if err := cd.ctr("--namespace", ns, "images", "import", "--base-name", benchImage, l.archive); err != nil {
			return err
		}
	}
	return f(cd)
}

// criRuntime is the containerd config of CRI's runtime handler name:
// runc's shim with binary as its runtime and state under root; with
// annotations, crhook's opt-in annotations reach the runtime.
func criRuntime(name, binary, root string, annotations bool) string {
	table := `  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.` + name + `]
    runtime_type = "io.containerd.runc.v2"
`
	if annotations {
		table += `    pod_annotations = ["io.crhook.*"]
    container_annotations = ["io.crhook.*"]
`
	}
	return table + fmt.Sprintf(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s.options]
      BinaryName = %q
      Root = %q
`, name, binary, root)
}

// ctr runs ctr against this containerd.
func (cd *containerd) ctr(args ...string) error {
	ctx, cancel := withTimeout()
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", cd.socket}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (cd *containerd) ctrVariants(l *engineLab) [engineVariants]func() error {
	run := func(binary string, extra ...string) func() error {
		return func() error {
			args := append([]string{"--namespace", benchNamespace, "run", "--rm", "--seccomp", "--runc-binary", binary}, extra...)
			return cd.ctr(append(args, benchImage+":latest", containerID(os.Getpid()), "/bin/true")...)
		}
	}
	return [engineVariants]func() error{
		enginePlain:      run(l.runc),
		engineCFloor:     run(l.cExecShim),
		engineGoFloor:    run(l.execShim),
		engineNotOptedIn: run(l.shim),
		engineOptedIn:    run(l.shim, "--annotation", annotationRestore+"=true"),
	}
}

// kubelet's masked and read-only paths (k8s.io/kubernetes
// pkg/securitycontext), which containerd leaves to its client.
var (
	kubeletMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	kubeletReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func (cd *containerd) criVariants(l *engineLab) ([engineVariants]func() error, error) {
	conn, err := grpc.NewClient("unix://"+cd.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return [engineVariants]func() error{}, fmt.Errorf("CRI client: %w", err)
	}
	rt := cri.NewRuntimeServiceClient(conn)
	logDir := filepath.Join(cd.dir, "pod-logs")
	pod := func(handler string, annotations map[string]string) func() error {
		return func() error { return runPod(rt, handler, annotations, logDir) }
	}
	return [engineVariants]func() error{
		enginePlain:      pod("runc", nil),
		engineCFloor:     pod("cexec", nil),
		engineGoFloor:    pod("goexec", nil),
		engineNotOptedIn: pod("crhook", nil),
		engineOptedIn:    pod("crhook", map[string]string{annotationRestore: "true"}),
	}, nil
}

// runPod is one pod's whole life, as kubelet drives it: the sandbox, one
// container that runs `true`, its exit, and the pod's removal.
func runPod(rt cri.RuntimeServiceClient, handler string, annotations map[string]string, logDir string) error {
	ctx, cancel := withTimeout()
	defer cancel()
	name := containerID(os.Getpid())
	sandboxConfig := &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: name, Uid: name, Namespace: "default"},
		LogDirectory: logDir,
		Annotations:  annotations,
		Linux: &cri.LinuxPodSandboxConfig{SecurityContext: &cri.LinuxSandboxSecurityContext{
			NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE, Pid: cri.NamespaceMode_POD, Ipc: cri.NamespaceMode_POD},
		}},
	}
	sandbox, err := rt.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: sandboxConfig, RuntimeHandler: handler})
	if err != nil {
		return fmt.Errorf("RunPodSandbox: %w", err)
	}
	defer func() {
		ctx, cancel := withTimeout()
		defer cancel()
		rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: sandbox.PodSandboxId})
		rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: sandbox.PodSandboxId})
	}()
	created, err := rt.CreateContainer(ctx, &cri.CreateContainerRequest{
		PodSandboxId:  sandbox.PodSandboxId,
		SandboxConfig: sandboxConfig,
		Config: &cri.ContainerConfig{
			Metadata: &cri.ContainerMetadata{Name: "app"},
			Image:    &cri.ImageSpec{Image: benchImage + ":latest"},
			Command:  []string{"/bin/true"},
			LogPath:  name + ".log",
			Linux: &cri.LinuxContainerConfig{SecurityContext: &cri.LinuxContainerSecurityContext{
				RunAsUser:        &cri.Int64Value{Value: 1000},
				Capabilities:     &cri.Capability{DropCapabilities: []string{"ALL"}},
				NoNewPrivs:       true,
				NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE, Pid: cri.NamespaceMode_CONTAINER, Ipc: cri.NamespaceMode_POD},
				MaskedPaths:      kubeletMaskedPaths,
				ReadonlyPaths:    kubeletReadonlyPaths,
				Seccomp:          &cri.SecurityProfile{ProfileType: cri.SecurityProfile_RuntimeDefault},
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("CreateContainer: %w", err)
	}
	if _, err := rt.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		return fmt.Errorf("StartContainer: %w", err)
	}
	for {
		st, err := rt.ContainerStatus(ctx, &cri.ContainerStatusRequest{ContainerId: created.ContainerId})
		if err != nil {
			return fmt.Errorf("ContainerStatus: %w", err)
		}
		if st.Status.State == cri.ContainerState_CONTAINER_EXITED {
			if st.Status.ExitCode != 0 {
				return fmt.Errorf("the container exited %d: %s", st.Status.ExitCode, st.Status.Message)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the container did not exit: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// dockerd is figure 4's private Docker engine.
type dockerd struct {
	*daemon
	socket string
}

// withDockerd starts dockerd with crhook's two runtimes and the image,
// and runs f.
func (l *engineLab) withDockerd(f func(*dockerd) error) error {
	dir := filepath.Join(l.dir, "docker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	config, err := json.Marshal(map[string]any{"runtimes": map[string]any{
		"crhook":          map[string]string{"path": l.shimMinimal},
		"crhook-annotate": map[string]string{"path": l.shim},
		"goexec":          map[string]string{"path": l.execShim},
		"cexec":           map[string]string{"path": l.cExecShim},
	}})
	if err != nil {
		return err
	}
	configPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		return fmt.Errorf("write daemon.json: %w", err)
	}
	dk := &dockerd{socket: filepath.Join(dir, "docker.sock")}
	d, err := startDaemon("dockerd", dir, l.env, func() error { return dk.docker(nil, "version") }, "dockerd",
		"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "pid"),
		"-H", "unix://"+dk.socket, "--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver", "vfs", "--config-file", configPath)
	if err != nil {
		return err
	}
	dk.daemon = d
	defer d.stop()
	if err := dk.docker(l.layer, "import", "-", benchImage+":latest"); err != nil {
		return err
	}
	return f(dk)
}

// docker runs the docker client against this dockerd, stdin on stdin.
func (dk *dockerd) docker(stdin []byte, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+dk.socket)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (dk *dockerd) variants(*engineLab) [engineVariants]func() error {
	run := func(runtime string) func() error {
		return func() error {
			return dk.docker(nil, "run", "--rm", "--runtime", runtime, "--network", "none", "--user", "1000",
				"--security-opt", "no-new-privileges", benchImage+":latest", "/bin/true")
		}
	}
	// crhook-annotate is crhook-runtime, which opts in only what is
	// annotated: Docker 20.10 annotates nothing.
	return [engineVariants]func() error{
		enginePlain: run("runc"), engineCFloor: run("cexec"), engineGoFloor: run("goexec"),
		engineNotOptedIn: run("crhook-annotate"), engineOptedIn: run("crhook"),
	}
}
