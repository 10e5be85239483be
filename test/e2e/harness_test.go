package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/verify"
)

// crhookBin and hookBin are the static crhook and crhook-hook, built
// once for all tests into one directory, as make install places them.
var crhookBin, hookBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: not root; every test here will skip (they start real containers)")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "crhook-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	crhookBin, hookBin = filepath.Join(dir, "crhook"), filepath.Join(dir, "crhook-hook")
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	for out, pkg := range map[string]string{crhookBin: "./cmd/crhook", hookBin: "./cmd/crhook-hook"} {
		build := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	// crhook install points engines at crhook-runtime, a link to
	// crhook-hook beside crhook.
	if err := os.Symlink("crhook-hook", filepath.Join(dir, "crhook-runtime")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// requireRoot skips tests that start containers when not root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts real containers")
	}
}

// requireTool fails when a program make test should have installed is
// missing: as root, a missing runtime is a broken setup, not a skip.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed; `make test` installs it (apt-get install %s)", name, name)
	}
	return p
}

var containerSeq atomic.Int64

// containerID is unique per test run and short enough for every runtime.
func containerID(prefix string) string {
	return fmt.Sprintf("crhook-%s-%d-%d", prefix, os.Getpid(), containerSeq.Add(1))
}

// rootfsApplets are the busybox applets the tests call.
var rootfsApplets = []string{"sh", "sleep", "cat", "echo", "id", "true", "ls"}

// makeRootfs fills dir with a busybox rootfs holding crhook as /bin/crhook.
func makeRootfs(t *testing.T, dir string) {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	// mnt/proc: crun creates no mount point for a procfs below /.
	for _, d := range []string{bin, filepath.Join(dir, "proc"), filepath.Join(dir, "sys"), filepath.Join(dir, "dev"), filepath.Join(dir, "tmp"), filepath.Join(dir, "mnt", "proc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	busybox := requireTool(t, "busybox")
	copyFile(t, busybox, filepath.Join(bin, "busybox"), 0o755)
	copyFile(t, crhookBin, filepath.Join(bin, "crhook"), 0o755)
	for _, a := range rootfsApplets {
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// bundle is a runc bundle in a test's temporary directory.
type bundle struct {
	Dir string
}

func (b bundle) ConfigPath() string { return filepath.Join(b.Dir, "config.json") }

// newBundle makes a bundle from `runc spec` (runc's own default, which
// keeps /proc/sys read-only), hardened the way the tests need: uid 1000,
// no new privileges, no terminal, running args.
func newBundle(t *testing.T, args ...string) bundle {
	t.Helper()
	requireRoot(t)
	runc := requireTool(t, "runc")
	b := bundle{Dir: t.TempDir()}
	makeRootfs(t, filepath.Join(b.Dir, "rootfs"))
	cmd := exec.Command(runc, "spec")
	cmd.Dir = b.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.NoNewPrivileges = true
		s.Process.Args = args
		s.Root.Readonly = false
		s.Hostname = "crhook-test"
	})
	return b
}

// Spec reads the bundle's config.json.
func (b bundle) Spec(t *testing.T) *specs.Spec {
	t.Helper()
	raw, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// Edit rewrites config.json through the spec types. Tests use it to set
// up a case, never to do crhook's work.
func (b bundle) Edit(t *testing.T, edit func(*specs.Spec)) {
	t.Helper()
	s := b.Spec(t)
	edit(s)
	raw, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.ConfigPath(), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addToEverySet puts capability name in all five sets of s's process, as
// a spec crhook adjusted for a non-root user holds it.
func addToEverySet(s *specs.Spec, name string) {
	c := s.Process.Capabilities
	for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient} {
		*set = append(*set, name)
	}
}

// result is what a command printed and how it ended.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
}

// run runs a command with a deadline; a command that hangs fails the test
// instead of hanging it.
func run(t *testing.T, stdin []byte, name string, args ...string) result {
	t.Helper()
	return runEnv(t, nil, stdin, name, args...)
}

func runEnv(t *testing.T, env []string, stdin []byte, name string, args ...string) result {
	t.Helper()
	r, err := execute(env, stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runNoFatal is run for goroutines other than the test's own: a command
// that cannot start or hangs comes back as exit -1 with the reason.
func runNoFatal(name string, args ...string) result {
	r, err := execute(nil, nil, name, args...)
	if err != nil {
		return result{Code: -1, Stderr: err.Error()}
	}
	return r
}

func runQuiet(name string, args ...string) { exec.Command(name, args...).Run() }

// execute runs a command with a deadline, so a hang fails instead of
// hanging the test.
func execute(env []string, stdin []byte, name string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.Code = exitErr.ExitCode()
	case err != nil:
		return r, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s %s did not finish in time: %s", name, strings.Join(args, " "), r)
	}
	return r, nil
}

// runcRoot is a private state directory, so tests never touch the host's
// containers and clean up after themselves.
func runcRoot(t *testing.T) string {
	t.Helper()
	return t.TempDir()
}

// ociRuntime runs a bundle's container to completion with a real runtime.
type ociRuntime struct {
	name string
	// bin is the runtime's program: "runc" or "crun" on PATH, or a path.
	bin string
	run func(t *testing.T, b bundle) result
	// showsHookStderr: the runtime puts a failing hook's stderr in its
	// own error (runc does; crun 1.8 does not).
	showsHookStderr bool
}

// EnvNewestRunc names the newest runc, which make test builds from its
// Go module into a cache (runc changed its mount code after Debian's
// 1.1): the core tests run under it too.
const EnvNewestRunc = "CRHOOK_RUNC_NEWEST"

// runtimes are the OCI runtimes the core tests run under: Debian's runc
// and crun, and the newest runc when make test gives it.
func runtimes(t *testing.T) []ociRuntime {
	t.Helper()
	rts := []ociRuntime{{name: "runc", bin: "runc", run: runcWith("runc"), showsHookStderr: true}}
	if newest := newestRunc(t); newest != "" {
		rts = append(rts, ociRuntime{name: "runc-" + runcVersion(t, newest), bin: newest, run: runcWith(newest), showsHookStderr: true})
	}
	return append(rts, ociRuntime{name: "crun", bin: "crun", run: crunRun})
}

// newestRunc is the newest runc's path, "" (said once per test) when
// make test did not build it.
func newestRunc(t *testing.T) string {
	t.Helper()
	p := os.Getenv(EnvNewestRunc)
	if p == "" {
		t.Logf("%s is not set: no newest runc to run under (make test builds one)", EnvNewestRunc)
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", EnvNewestRunc, p, err)
	}
	return p
}

// runcVersion is what `runc --version` says of its own version.
func runcVersion(t *testing.T, bin string) string {
	t.Helper()
	r := run(t, nil, bin, "--version")
	v, ok := strings.CutPrefix(strings.SplitN(r.Stdout, "\n", 2)[0], "runc version ")
	if r.Code != 0 || !ok {
		t.Fatalf("%s --version: %s", bin, r)
	}
	return v
}

// forEachRuntime runs test once per runtime, as a subtest.
func forEachRuntime(t *testing.T, test func(*testing.T, ociRuntime)) {
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) { test(t, rt) })
	}
}

// runcRun runs the bundle's container to completion with Debian's runc.
func runcRun(t *testing.T, b bundle) result {
	t.Helper()
	return runcWith("runc")(t, b)
}

// runcWith runs a bundle's container to completion with the runc at bin
// ("runc": the one on PATH).
func runcWith(bin string) func(t *testing.T, b bundle) result {
	return func(t *testing.T, b bundle) result {
		t.Helper()
		if bin == "runc" {
			bin = requireTool(t, "runc")
		}
		root := runcRoot(t)
		id := containerID("runc")
		t.Cleanup(func() { exec.Command(bin, "--root", root, "delete", "--force", id).Run() })
		return run(t, nil, bin, "--root", root, "run", "--bundle", b.Dir, id)
	}
}

// crunSetup gives crun what it needs on this hybrid-cgroup machine
// (LAB.md): a private mount namespace where /sys/fs/cgroup is a plain
// cgroup2 mount, with cgroups disabled. Nothing outside that namespace
// changes.
const crunSetup = "mount --make-rprivate / && umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\""

// crunRun runs the bundle's container to completion with real crun.
func crunRun(t *testing.T, b bundle) result {
	t.Helper()
	crun := requireTool(t, "crun")
	root := runcRoot(t)
	id := containerID("crun")
	t.Cleanup(func() { exec.Command(crun, "--root", root, "delete", "--force", id).Run() })
	return run(t, nil, "unshare", "-m", "sh", "-c", crunSetup, "crun-setup",
		crun, "--cgroup-manager=disabled", "--root", root, "run", "--bundle", b.Dir, id)
}

// verifyArgs runs crhook verify inside the container: a tree placed at
// PIDs 500 (the parent), 501 and 502, as CRIU would restore one.
var verifyArgs = []string{"/bin/crhook", "verify", "--json", "--pids", "500,501,502"}

// assertTreePlaced checks a passing verify report whose drill placed its
// tree at the PIDs asked for (500, then 501 and up), with ns_last_pid
// still read-only.
func assertTreePlaced(t *testing.T, rep verify.Report) {
	t.Helper()
	if !rep.OK || rep.Drill.Mode != "tree" || rep.Drill.Parent.Got != 500 {
		t.Fatalf("report: %+v", rep)
	}
	for i, p := range rep.Drill.Placements {
		if p.Got != 501+i {
			t.Errorf("child %d got pid %d, want %d", i, p.Got, 501+i)
		}
	}
	if c := check(t, rep, "ns_last_pid"); !strings.Contains(c.Detail, "EROFS") {
		t.Errorf("ns_last_pid must stay read-only: %+v", c)
	}
}

// parseReport decodes verify's JSON from a container's stdout.
func parseReport(t *testing.T, r result) verify.Report {
	t.Helper()
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("verify printed no report: %v\n%s", err, r)
	}
	return rep
}

func check(t *testing.T, rep verify.Report, name string) verify.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("report has no %s check: %+v", name, rep.Checks)
	return verify.Check{}
}

// crhook runs the test's crhook binary on the host.
func crhook(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return run(t, stdin, crhookBin, args...)
}

// writeConfig writes an admin config that logs to a file in the test's
// directory, and returns the config's path and the log's.
func writeConfig(t *testing.T, extra string) (configPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath = filepath.Join(dir, "crhook.log")
	configPath = filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("log_file = %q\n%s", logPath, extra)
	if err := os.WriteFile(configPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return configPath, logPath
}

// logLine is one line of crhook's JSON log.
type logLine struct {
	Level     string   `json:"level"`
	Msg       string   `json:"msg"`
	Stage     string   `json:"stage"`
	Container string   `json:"container"`
	OptedIn   bool     `json:"opted_in"`
	Profile   string   `json:"profile"`
	Changes   []string `json:"changes"`
	Notes     []string `json:"notes"`
	Result    string   `json:"result"`
	Error     string   `json:"error"`
}

// readLog parses every line of crhook's log; a line that is not one JSON
// object fails the test.
func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseLogLines(t, data)
}

// parseLogLines parses crhook's JSON log lines.
func parseLogLines(t *testing.T, data []byte) []logLine {
	t.Helper()
	var lines []logLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		lines = append(lines, ll)
	}
	return lines
}

// runtimeLink makes crhook-runtime, a link to the test's crhook-hook, in a
// temporary directory and returns its path.
func runtimeLink(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "crhook-runtime")
	if err := os.Symlink(hookBin, link); err != nil {
		t.Fatal(err)
	}
	return link
}
