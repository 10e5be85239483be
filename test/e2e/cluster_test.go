package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The builds make test-kubernetes makes from the releases' Go modules
// and passes here: Kubernetes' and etcd's programs, containerd 2.x's, and
// the newest runc (EnvNewestRunc).
const (
	EnvKubernetesBin = "CRHOOK_KUBERNETES_BIN"
	EnvContainerdBin = "CRHOOK_CONTAINERD_BIN"
	// EnvRequireCluster makes a missing build fail instead of skip.
	EnvRequireCluster = "CRHOOK_REQUIRE_CLUSTER"
)

// The node's addresses, in the network namespace the test makes for it.
const (
	nodeName = "crhook-node"
	nodeIP   = "192.0.2.2"
	podCIDR  = "10.244.0.0/24"
)

// cluster is a single-node Kubernetes cluster: etcd, the API server,
// controller manager and scheduler, containerd 2.x and the kubelet, all
// from their own releases, run by the test. The node is a mount and
// network namespace of its own: /etc, /usr/local, /var and /run are
// overlays whose changes land in the test's directory, so the
// DaemonSet's install, containerd's and the kubelet's state touch none of
// the host's files, and the pods' network is not the host's.
type cluster struct {
	dir     string
	kubeBin string
	ctrdBin string
	runc    string
	pki     *pki
	admin   string
	// holder keeps the node's namespaces; every daemon enters them.
	holder  *exec.Cmd
	daemons map[string]*exec.Cmd
	// cgroupRoot is the kubelet's cgroup parent, removed at the end.
	cgroupRoot string
	// containerdConfig is the node's config.toml as the test wrote it.
	containerdConfig string
}

// requireCluster returns the builds' paths, or skips in one line when
// make test-kubernetes did not give them.
func requireCluster(t *testing.T) (kubeBin, ctrdBin, runc string) {
	t.Helper()
	requireRoot(t)
	kubeBin, ctrdBin, runc = os.Getenv(EnvKubernetesBin), os.Getenv(EnvContainerdBin), os.Getenv(EnvNewestRunc)
	if kubeBin == "" || ctrdBin == "" || runc == "" {
		msg := fmt.Sprintf("no Kubernetes, containerd 2.x or newest runc build (%s, %s, %s): make test-kubernetes builds them and runs this", EnvKubernetesBin, EnvContainerdBin, EnvNewestRunc)
		if os.Getenv(EnvRequireCluster) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return kubeBin, ctrdBin, runc
}

// nodeSetup makes the node's namespaces inside unshare: the loopback and
// a veth pair (this kernel has no dummy links) with the node's address, overlays over the host
// directories a node writes, and the kernel settings the kubelet wants
// as plain files in front of the host's (it would write the host's
// otherwise: vm.overcommit_memory, kernel.panic, ...).
const nodeSetup = `set -eu
ip link set lo up
ip link add crhook0 type veth peer name crhook1
ip addr add ` + nodeIP + `/24 dev crhook0
ip link set crhook1 up
ip link set crhook0 up
ip route add default via 192.0.2.1 dev crhook0 onlink
for d in etc usr/local var run; do
	mkdir -p "$NODE/upper/$d" "$NODE/work/$d"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$NODE/upper/$d,workdir=$NODE/work/$d" "/$d"
done
# containerd's overlayfs snapshotter cannot keep its layers on an overlay.
mkdir -p "$NODE/containerd" /var/lib/containerd
mount --bind "$NODE/containerd" /var/lib/containerd
mkdir -p "$NODE/sysctl"
while read -r key value; do
	f="$NODE/sysctl/$(echo "$key" | tr / .)"
	echo "$value" > "$f"
	mount --bind "$f" "/proc/sys/$key"
done <<EOF
vm/overcommit_memory 1
vm/panic_on_oom 0
kernel/panic 10
kernel/panic_on_oops 1
kernel/keys/root_maxkeys 1000000
kernel/keys/root_maxbytes 25000000
EOF
echo ready
exec sleep 2147483647
`

// startCluster starts every part and waits until the node is Ready.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	kubeBin, ctrdBin, runc := requireCluster(t)
	c := &cluster{dir: t.TempDir(), kubeBin: kubeBin, ctrdBin: ctrdBin, runc: runc, daemons: map[string]*exec.Cmd{}}
	t.Cleanup(c.stop)
	c.startNode(t)
	c.pki = newPKI(t, c.path("pki"))
	c.startControlPlane(t)
	c.writeContainerdConfig(t)
	c.startContainerd(t)
	c.loadPauseImage(t)
	c.startKubelet(t)
	c.waitNodeReady(t)
	return c
}

func (c *cluster) path(elem ...string) string {
	p := filepath.Join(append([]string{c.dir}, elem...)...)
	os.MkdirAll(filepath.Dir(p), 0o755)
	return p
}

// onNode is the node's view of path: what the node's processes see at
// path, held in the overlay's upper layer in the test's directory.
func (c *cluster) onNode(path string) string {
	return filepath.Join(c.dir, "node", "upper", strings.TrimPrefix(path, "/"))
}

func (c *cluster) startNode(t *testing.T) {
	t.Helper()
	node := c.path("node")
	mustDo(t, os.MkdirAll(node, 0o755))
	c.holder = exec.Command("unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", nodeSetup)
	c.holder.Env = append(os.Environ(), "NODE="+node)
	out, err := c.holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.holder.Stderr = logFile(t, c.path("logs", "node.log"))
	mustDo(t, c.holder.Start())
	buf := make([]byte, 6)
	if n, err := out.Read(buf); err != nil || string(buf[:n]) != "ready\n" {
		t.Fatalf("the node's namespaces: %v %q\n%s", err, buf[:n], readFileOr(c.path("logs", "node.log")))
	}
}

// inNode is a command run in the node's mount and network namespaces.
func (c *cluster) inNode(name string, args ...string) *exec.Cmd {
	pid := strconv.Itoa(c.holder.Process.Pid)
	return exec.Command("nsenter", append([]string{"--target", pid, "--mount", "--net", "--", name}, args...)...)
}

// startDaemon runs a program in the node, its output in logs/NAME.log.
func (c *cluster) startDaemon(t *testing.T, name string, env []string, prog string, args ...string) {
	t.Helper()
	cmd := c.inNode(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	f := logFile(t, c.path("logs", name+".log"))
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	mustDo(t, cmd.Start())
	c.daemons[name] = cmd
}

// stopDaemon stops a daemon and waits for it.
func (c *cluster) stopDaemon(name string) {
	cmd, ok := c.daemons[name]
	if !ok {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	delete(c.daemons, name)
}

func logFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// stop ends every process the cluster started, the pods' included: the
// kubelet first, then containerd's containers and shims, then the rest.
func (c *cluster) stop() {
	c.stopDaemon("kubelet")
	if c.holder != nil && c.holder.Process != nil {
		// Every container the node ran: its shims are children of no
		// daemon once containerd stops, so kill each by its cgroup.
		c.killPods()
	}
	for _, name := range []string{"containerd", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"} {
		c.stopDaemon(name)
	}
	if c.holder != nil && c.holder.Process != nil {
		c.holder.Process.Kill()
		c.holder.Wait()
	}
	c.removeCgroups()
}

// nodeProcesses lists the processes of the node: in its mount namespace,
// or in one of the kubelet's cgroups (the containers, whose mount
// namespaces are their own).
func (c *cluster) nodeProcesses() []int {
	nodeNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", c.holder.Process.Pid))
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == c.holder.Process.Pid {
			continue
		}
		ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if (nodeNS != "" && ns == nodeNS) || (c.cgroupRoot != "" && strings.Contains(string(cg), c.cgroupRoot+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (c *cluster) killPods() {
	for range 20 {
		pids := c.nodeProcesses()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroups removes the kubelet's cgroups, deepest first, from every
// hierarchy of this hybrid host.
func (c *cluster) removeCgroups() {
	if c.cgroupRoot == "" {
		return
	}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hierarchies {
		var dirs []string
		filepath.WalkDir(filepath.Join(h, c.cgroupRoot), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
}

// startControlPlane starts etcd, the API server, the controller manager
// and the scheduler, with certificates the test made.
func (c *cluster) startControlPlane(t *testing.T) {
	t.Helper()
	p := c.pki
	server := "https://" + nodeIP + ":6443"
	c.admin = p.kubeconfig(t, "admin", "crhook-e2e-admin", []string{"system:masters"}, server)
	apiCert, apiKey := p.issue(t, "apiserver", "kube-apiserver", nil, nodeIP, "127.0.0.1", "10.96.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
	kcCert, kcKey := p.issue(t, "apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"})
	saPub, saKey := p.keyPair(t, "sa")
	c.startDaemon(t, "etcd", nil, filepath.Join(c.kubeBin, "etcd"), "--data-dir", c.path("etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380")
	c.startDaemon(t, "kube-apiserver", nil, filepath.Join(c.kubeBin, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:2379", "--secure-port", "6443", "--advertise-address", nodeIP,
		"--tls-cert-file", apiCert, "--tls-private-key-file", apiKey, "--client-ca-file", p.path("ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey, "--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction", "--allow-privileged=true",
		"--service-cluster-ip-range", "10.96.0.0/16", "--kubelet-certificate-authority", p.path("ca.crt"),
		"--kubelet-client-certificate", kcCert, "--kubelet-client-key", kcKey,
		"--kubelet-preferred-address-types", "InternalIP")
	c.waitFor(t, "the API server", 2*time.Minute, func() (bool, string) {
		r := c.kubectlNoFatal("get", "--raw", "/readyz")
		return r.Code == 0 && strings.Contains(r.Stdout, "ok"), r.String()
	})
	c.startDaemon(t, "kube-controller-manager", nil, filepath.Join(c.kubeBin, "kube-controller-manager"),
		"--kubeconfig", p.kubeconfig(t, "controller-manager", "system:kube-controller-manager", nil, server),
		"--use-service-account-credentials=true", "--root-ca-file", p.path("ca.crt"),
		"--service-account-private-key-file", saKey, "--leader-elect=false")
	c.startDaemon(t, "kube-scheduler", nil, filepath.Join(c.kubeBin, "kube-scheduler"),
		"--kubeconfig", p.kubeconfig(t, "scheduler", "system:kube-scheduler", nil, server), "--leader-elect=false")
}

// waitFor polls cond, failing with the daemons' logs when it never holds.
func (c *cluster) waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	if last, ok := poll(timeout, time.Second, cond); !ok {
		t.Fatalf("%s: not within %s: %s\n%s", what, timeout, last, c.logTails())
	}
}

// logTails is the end of each daemon's log, for a failure.
func (c *cluster) logTails() string {
	var b strings.Builder
	logs, _ := filepath.Glob(c.path("logs", "*.log"))
	for _, l := range logs {
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(l), tail(readFileOr(l), 2500))
	}
	return b.String()
}

// kubectl runs the cluster's kubectl as the admin, in the node's network.
func (c *cluster) kubectl(t *testing.T, args ...string) result {
	t.Helper()
	r := c.kubectlNoFatal(args...)
	if r.Code == -1 {
		t.Fatal(r.Stderr)
	}
	return r
}

func (c *cluster) kubectlNoFatal(args ...string) result {
	cmd := c.inNode(filepath.Join(c.kubeBin, "kubectl"), append([]string{"--kubeconfig", c.admin}, args...)...)
	return runCmd(cmd, nil)
}

// runCmd runs cmd to its end within 2 minutes; -1 when it could not.
func runCmd(cmd *exec.Cmd, stdin []byte) result {
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	if err := cmd.Start(); err != nil {
		return result{Code: -1, Stderr: err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		return result{Code: -1, Stdout: stdout.String(), Stderr: "did not end within 2 minutes: " + stderr.String()}
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}

// The node's containerd config and its CNI network: containerd's own
// default paths, which the node's /etc and /var overlays keep private,
// the newest runc with cgroupfs, and the OOM score clamped to containerd's
// own (runc cannot lower it here: the host lacks CAP_SYS_RESOURCE).
const (
	nodeContainerdConfig = "/etc/containerd/config.toml"
	nodeContainerdSocket = "/run/containerd/containerd.sock"
	pauseImage           = "registry.k8s.io/pause:3.10.2"
)

func (c *cluster) writeContainerdConfig(t *testing.T) {
	t.Helper()
	config := fmt.Sprintf(`version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = %q

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = %q

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ['/usr/lib/cni']
  conf_dir = '/etc/cni/net.d'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = %q
`, nodeContainerdSocket, pauseImage, c.runc)
	c.containerdConfig = config
	writeNodeFile(t, c.onNode(nodeContainerdConfig), config)
	writeNodeFile(t, c.onNode("/etc/cni/net.d/10-crhook-e2e.conflist"), `{
  "cniVersion": "1.0.0",
  "name": "crhook-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "`+podCIDR+`"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`)
}

// writeNodeFile writes path, a file in the node's overlay, and its
// directories.
func writeNodeFile(t *testing.T, path, text string) {
	t.Helper()
	mustDo(t, os.MkdirAll(filepath.Dir(path), 0o755))
	mustDo(t, os.WriteFile(path, []byte(text), 0o644))
}

// startContainerd starts the node's containerd 2.x. The shim and
// crhook-runtime find runc, and the checkpoint API finds criu, on PATH.
func (c *cluster) startContainerd(t *testing.T) {
	t.Helper()
	path := strings.Join([]string{filepath.Dir(c.runc), c.ctrdBin, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}, ":")
	if criu, skip := findCRIU(); skip == "" {
		path = filepath.Dir(criu) + ":" + path
	}
	c.startDaemon(t, "containerd", []string{"PATH=" + path}, filepath.Join(c.ctrdBin, "containerd"), "--config", nodeContainerdConfig)
	c.waitFor(t, "containerd", time.Minute, func() (bool, string) {
		r := runCmd(c.inNode(filepath.Join(c.ctrdBin, "ctr"), "--address", nodeContainerdSocket, "version"), nil)
		return r.Code == 0, r.String()
	})
}

// restartContainerd stops the node's containerd and starts it again, as
// an admin does after installing into its config; pods keep running.
func (c *cluster) restartContainerd(t *testing.T) {
	t.Helper()
	c.stopDaemon("containerd")
	c.startContainerd(t)
}

// ctr runs containerd's ctr against the node's containerd, in the
// namespace Kubernetes uses.
func (c *cluster) ctr(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(c.inNode(filepath.Join(c.ctrdBin, "ctr"), append([]string{"--address", nodeContainerdSocket, "--namespace", "k8s.io"}, args...)...), nil)
}

// startKubelet starts the kubelet on the node's containerd, with its
// cgroups under a parent of its own, and cgroup v1 allowed: this host
// is hybrid, which the kubelet takes for v1.
func (c *cluster) startKubelet(t *testing.T) {
	t.Helper()
	c.cgroupRoot = fmt.Sprintf("/crhook-e2e-%d", os.Getpid())
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hierarchies {
		os.MkdirAll(filepath.Join(h, c.cgroupRoot), 0o755)
	}
	cert, key := c.pki.issue(t, "kubelet", "system:node:"+nodeName, []string{"system:nodes"}, nodeIP, nodeName)
	kubeconfig := c.pki.kubeconfig(t, "kubelet-client", "system:node:"+nodeName, []string{"system:nodes"}, "https://"+nodeIP+":6443")
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: 10250
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
resolvConf: /etc/resolv.conf
podCIDR: %s
evictionHard: {memory.available: "50Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`, nodeIP, cert, key, c.pki.path("ca.crt"), c.cgroupRoot, nodeContainerdSocket, podCIDR)
	configPath := c.path("kubelet-config.yaml")
	mustDo(t, os.WriteFile(configPath, []byte(config), 0o644))
	c.startDaemon(t, "kubelet", nil, filepath.Join(c.kubeBin, "kubelet"), "--config", configPath, "--kubeconfig", kubeconfig,
		"--hostname-override", nodeName, "--node-ip", nodeIP, "--root-dir", "/var/lib/kubelet")
}

// waitNodeReady waits for the node to report Ready, which it does once
// containerd's CNI network is up.
func (c *cluster) waitNodeReady(t *testing.T) {
	t.Helper()
	c.waitFor(t, "the node Ready", 3*time.Minute, func() (bool, string) {
		r := c.kubectlNoFatal("get", "node", nodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return r.Code == 0 && r.Stdout == "True", r.String()
	})
	c.waitFor(t, "the default service account", time.Minute, func() (bool, string) {
		r := c.kubectlNoFatal("get", "serviceaccount", "default")
		return r.Code == 0, r.String()
	})
}

// loadImage copies a podman image into the node's containerd, named ref
// (podman tags it so first): no registry can be reached.
func (c *cluster) loadImage(t *testing.T, podmanImage, ref string) {
	t.Helper()
	if podmanImage != ref {
		if r := podman(t, "tag", podmanImage, ref); r.Code != 0 {
			t.Fatalf("podman tag: %s", r)
		}
		t.Cleanup(func() { podman(t, "rmi", ref) })
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if r := podman(t, "save", "--format", "oci-archive", "-o", archive, ref); r.Code != 0 {
		t.Fatalf("podman save: %s", r)
	}
	name, _, _ := strings.Cut(ref, ":")
	if r := c.ctr(t, "images", "import", "--base-name", name, archive); r.Code != 0 {
		t.Fatalf("ctr images import %s: %s", ref, r)
	}
}

// loadPauseImage builds the pod sandbox image from test/pause, under
// the name containerd's config pins.
func (c *cluster) loadPauseImage(t *testing.T) {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	mustDo(t, os.MkdirAll(rootfs, 0o755))
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(rootfs, "pause"), "./pause")
	build.Dir = filepath.Join(filepath.Dir(self), "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pause: %v\n%s", err, out)
	}
	tarball := filepath.Join(t.TempDir(), "pause.tar")
	if r := run(t, nil, "tar", "-C", rootfs, "-cf", tarball, "."); r.Code != 0 {
		t.Fatalf("tar: %s", r)
	}
	local := "localhost/crhook-e2e-pause:" + containerID("p")
	if r := podman(t, "import", "--change", `ENTRYPOINT ["/pause"]`, tarball, local); r.Code != 0 {
		t.Fatalf("podman import: %s", r)
	}
	t.Cleanup(func() { podman(t, "rmi", "--force", local) })
	c.loadImage(t, local, pauseImage)
}
