package e2e

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/verify"
	"github.com/crhook/crhook/spec"
)

// TestWithoutCrhook is the baseline: a hardened uid 1000 container
// cannot choose PIDs, and ns_last_pid is read-only.
func TestWithoutCrhook(t *testing.T) { forEachRuntime(t, testWithoutCrhook) }

func testWithoutCrhook(t *testing.T, rt ociRuntime) {
	b := newBundle(t, verifyArgs...)
	r := rt.run(t, b)
	if r.Code != 1 {
		t.Fatalf("verify should fail without crhook: %s", r)
	}
	rep := parseReport(t, r)
	if rep.OK || rep.UID != 1000 {
		t.Fatalf("report: %+v", rep)
	}
	if c := check(t, rep, "set_tid"); c.Status != verify.StatusFail || !strings.Contains(c.Detail, "EPERM") {
		t.Errorf("set_tid: %+v, want EPERM", c)
	}
	if c := check(t, rep, "ns_last_pid"); !strings.Contains(c.Detail, "EROFS") {
		t.Errorf("ns_last_pid: %+v, want EROFS", c)
	}
}

// TestWithPatch: after `crhook patch` the same container places a
// process tree at PIDs 500-502, /proc/sys stays read-only, and both
// checks crhook registered ran and logged one line each.
func TestWithPatch(t *testing.T) { forEachRuntime(t, testWithPatch) }

func testWithPatch(t *testing.T, rt ociRuntime) {
	b := newBundle(t, verifyArgs...)
	configPath, logPath := writeConfig(t, "")
	if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--config", configPath); r.Code != 0 {
		t.Fatalf("patch: %s", r)
	}
	r := rt.run(t, b)
	if r.Code != 0 {
		t.Fatalf("verify should pass after patch: %s", r)
	}
	rep := parseReport(t, r)
	assertTreePlaced(t, rep)
	if c := check(t, rep, "proc_sys_readonly"); c.Status != verify.StatusOK {
		t.Errorf("/proc/sys: %+v", c)
	}
	if c := check(t, rep, "capabilities"); c.Status != verify.StatusOK || !strings.Contains(c.Detail, "ambient") {
		t.Errorf("capabilities: %+v", c)
	}
	if c := check(t, rep, "fresh_proc"); !strings.Contains(c.Detail, "fails") {
		t.Errorf("fresh /proc must stay impossible: %+v", c)
	}
	var stages []string
	for _, l := range readLog(t, logPath) {
		if l.Stage == "patch" {
			continue
		}
		if l.Result != "ok" || !l.OptedIn {
			t.Errorf("log line: %+v", l)
		}
		stages = append(stages, l.Stage)
	}
	if !slices.Equal(stages, []string{"createRuntime", "poststart"}) {
		t.Errorf("logged stages %v, want createRuntime then poststart", stages)
	}
}

// TestPatchIsIdempotent: a second patch changes no byte.
func TestPatchIsIdempotent(t *testing.T) {
	b := newBundle(t, "true")
	if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", "restore"); r.Code != 0 {
		t.Fatalf("patch: %s", r)
	}
	first, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", "restore")
	if r.Code != 0 || !strings.Contains(r.Stdout, "nothing changed") {
		t.Fatalf("second patch: %s", r)
	}
	second, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Fatal("second patch changed config.json")
	}
	s := b.Spec(t)
	if s.Annotations[spec.AnnotationProfile] != "restore" || !slices.Contains(s.Process.Capabilities.Ambient, "CAP_SETPCAP") {
		t.Errorf("restore profile not applied: %+v", s.Process.Capabilities)
	}
}

// TestPatchRefusesWritableProcSys: patch grants nothing to a spec whose
// /proc/sys is writable, says so, and leaves the file alone.
func TestPatchRefusesWritableProcSys(t *testing.T) {
	b := newBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { s.Linux.ReadonlyPaths = withoutProcSys(s.Linux.ReadonlyPaths) })
	before, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	r := crhook(t, nil, "patch", "--bundle", b.Dir)
	if r.Code != 1 || !strings.Contains(r.Stderr, "/proc/sys is writable") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Fatalf("patch should refuse with one line naming /proc/sys: %s", r)
	}
	after, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("a refused patch changed config.json")
	}
}

// TestRefusesPatchedBundleWithWritableProcSys: the rule removed after
// patch stops the container in createRuntime, and the runtime's error
// names /proc/sys.
func TestRefusesPatchedBundleWithWritableProcSys(t *testing.T) {
	forEachRuntime(t, testRefusesPatchedBundleWithWritableProcSys)
}

func testRefusesPatchedBundleWithWritableProcSys(t *testing.T, rt ociRuntime) {
	b := newBundle(t, "echo", "container-ran")
	configPath, logPath := writeConfig(t, "")
	if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--config", configPath); r.Code != 0 {
		t.Fatalf("patch: %s", r)
	}
	b.Edit(t, func(s *specs.Spec) { s.Linux.ReadonlyPaths = withoutProcSys(s.Linux.ReadonlyPaths) })
	r := rt.run(t, b)
	if r.Code == 0 || strings.Contains(r.Stdout, "container-ran") {
		t.Fatalf("container must not start: %s", r)
	}
	assertRefusal(t, rt, r, logPath, "createRuntime", "/proc/sys is writable")
}

// assertRefusal checks that crhook's reason reached the user. runc shows
// a failing hook's stderr in its own error; crun 1.8 shows only the hook's
// exit code, so there the reason is checked in crhook's log.
func assertRefusal(t *testing.T, rt ociRuntime, r result, logPath, stage, reason string) {
	t.Helper()
	if rt.showsHookStderr {
		// runc quotes the hook's stderr in its own error, escaping quotes.
		stderr := strings.ReplaceAll(r.Stderr, `\"`, `"`)
		if !strings.Contains(stderr, reason) || !strings.Contains(stderr, "crhook-hook "+stage) {
			t.Fatalf("the runtime's error must carry crhook's reason %q: %s", reason, r)
		}
		return
	}
	if r.Code == 0 {
		t.Fatalf("the container must end in failure: %s", r)
	}
	if _, err := os.Stat(logPath); err != nil {
		t.Fatalf("crhook's %s never ran (%v): %s", stage, err, r)
	}
	if _, err := os.Stat(logPath); err != nil {
		t.Fatalf("crhook's %s never ran (%v): %s", stage, err, r)
	}
	for _, l := range readLog(t, logPath) {
		if l.Stage == stage && l.Result == "refused" && strings.Contains(l.Error, reason) {
			t.Logf("crhook's %s: %s", stage, l.Error)
			return
		}
	}
	t.Fatalf("crhook's log has no %s refusal with %q", stage, reason)
}

func withoutProcSys(paths []string) []string {
	return slices.DeleteFunc(paths, func(p string) bool { return p == spec.ProcSys })
}

// TestPoststartFailsOnProcessWithoutCap feeds poststart the state of a
// live uid 1000 process that holds no capabilities.
func TestPoststartFailsOnProcessWithoutCap(t *testing.T) {
	requireRoot(t)
	sleep := exec.Command(requireTool(t, "sleep"), "60")
	sleep.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	state := `{"ociVersion":"1.0.2","id":"live-no-cap","status":"running","pid":` + strconv.Itoa(sleep.Process.Pid) +
		`,"bundle":"/nonexistent","annotations":{"io.crhook.restore":"true"}}`
	r := crhook(t, []byte(state), "poststart")
	if r.Code != 1 || !strings.Contains(r.Stderr, "live-no-cap") || !strings.Contains(r.Stderr, "lacks CAP_CHECKPOINT_RESTORE") {
		t.Fatalf("poststart should fail naming the container and the cap: %s", r)
	}
}

// TestPoststartKillsContainerWithoutCap: a container that opted in but
// never got the capability (only the poststart check registered, no
// patch) is refused by poststart, and the runtime stops it.
func TestPoststartKillsContainerWithoutCap(t *testing.T) {
	forEachRuntime(t, testPoststartKillsContainerWithoutCap)
}

func testPoststartKillsContainerWithoutCap(t *testing.T, rt ociRuntime) {
	b := newBundle(t, "sh", "-c", "sleep 60; echo container-finished")
	configPath, logPath := writeConfig(t, "")
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: hookBin, Args: []string{"crhook-hook", "poststart", "--config", configPath}}}}
	})
	start := time.Now()
	r := rt.run(t, b)
	if strings.Contains(r.Stdout, "container-finished") || time.Since(start) > 30*time.Second {
		t.Fatalf("the container must be stopped at poststart: %s", r)
	}
	assertRefusal(t, rt, r, logPath, "poststart", "lacks CAP_CHECKPOINT_RESTORE")
}

// TestConcurrentPatch: patches racing on one bundle serialize on the
// bundle's lock. The file ends valid and patched once (one hook of each
// stage, not one per run), and its mode and owner are kept.
func TestConcurrentPatch(t *testing.T) {
	b := newBundle(t, "true")
	if err := os.Chmod(b.ConfigPath(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(b.ConfigPath(), 1234, 1234); err != nil {
		t.Fatal(err)
	}
	const runs = 8
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runNoFatal(crhookBin, "patch", "--bundle", b.Dir)
		}()
	}
	wg.Wait()
	changed := 0
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("patch %d: %s", i, r)
		}
		if !strings.Contains(r.Stdout, "nothing changed") {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d runs changed the file, want exactly 1", changed)
	}
	s := b.Spec(t)
	if s.Hooks == nil || len(s.Hooks.CreateRuntime) != 1 || len(s.Hooks.Poststart) != 1 {
		t.Fatalf("hooks: %+v", s.Hooks)
	}
	if !slices.Contains(s.Process.Capabilities.Ambient, spec.CapCheckpointRestore) {
		t.Fatal("not patched")
	}
	info, err := os.Stat(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if info.Mode().Perm() != 0o600 || st.Uid != 1234 || st.Gid != 1234 {
		t.Errorf("mode %v owner %d:%d, want 0600 1234:1234", info.Mode().Perm(), st.Uid, st.Gid)
	}
}

// TestCheckpointUnderSeccomp: a checkpoint container under Docker's
// seccomp profile cannot dump (CRIU must suspend the filter, which needs
// CAP_SYS_ADMIN) but can restore. By default crhook grants and keeps the
// filter, and says so in the log; with checkpoint_seccomp = "refuse" it
// refuses it before it starts, naming seccomp.
func TestCheckpointUnderSeccomp(t *testing.T) {
	const allowed = `allowed_profiles = ["minimal", "restore", "checkpoint"]` + "\n"
	t.Run("kept by default, and logged", func(t *testing.T) {
		b := newBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
		configPath, logPath := writeConfig(t, allowed)
		if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", "checkpoint", "--config", configPath); r.Code != 0 {
			t.Fatalf("patch: %s", r)
		}
		if s := b.Spec(t); s.Linux.Seccomp == nil {
			t.Fatal("the filter is gone")
		}
		if r := runcRun(t, b); r.Code != 0 {
			t.Fatalf("runc: %s", r)
		}
		for _, stage := range []string{"patch", "createRuntime", "poststart"} {
			if !slices.ContainsFunc(readLog(t, logPath), func(l logLine) bool {
				return l.Stage == stage && strings.Contains(strings.Join(l.Notes, ";"), "keeps its seccomp filter")
			}) {
				t.Errorf("%s did not log that the filter stays and dumps fail", stage)
			}
		}
	})
	t.Run("refused under checkpoint_seccomp = refuse", func(t *testing.T) {
		b := newBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
		before := readFile(t, b.ConfigPath())
		configPath, _ := writeConfig(t, allowed+`checkpoint_seccomp = "refuse"`)
		r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", "checkpoint", "--config", configPath)
		if r.Code != 1 || !strings.Contains(r.Stderr, "a seccomp filter stops criu dump") {
			t.Fatalf("patch must refuse, naming seccomp: %s", r)
		}
		if readFile(t, b.ConfigPath()) != before {
			t.Fatal("a refused patch changed config.json")
		}
	})
}
