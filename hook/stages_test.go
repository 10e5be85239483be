package hook

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

// runcSpec is runc's default spec (its /proc/sys is read-only), as a
// hardened non-root container, with edit applied.
func runcSpec(t *testing.T, edit func(*specs.Spec)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "spec", "testdata", "runc-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.User.UID = 1000
	s.Process.NoNewPrivileges = true
	if edit != nil {
		edit(&s)
	}
	out, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func optedIn(s *specs.Spec) {
	s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
}

func writableProcSys(s *specs.Spec) {
	optedIn(s)
	s.Linux.ReadonlyPaths = nil
}

// testEnv is a stage's environment with the default config and stdin.
func testEnv(stdin []byte) (Env, *bytes.Buffer) {
	var stdout bytes.Buffer
	return Env{Config: config.Default(), Stdin: bytes.NewReader(stdin), Stdout: &stdout, Self: "/usr/local/bin/crhook-hook"}, &stdout
}

// bundle writes config into a fresh bundle directory.
func bundle(t *testing.T, config []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// adjusted is config as precreate leaves it.
func adjusted(t *testing.T, config []byte) []byte {
	t.Helper()
	res, err := spec.Adjust(config, spec.Options{Policy: spec.DefaultPolicy()})
	if err != nil || !res.Changed {
		t.Fatalf("adjust: changed %v, %v", res.Changed, err)
	}
	return res.Output
}

func state(t *testing.T, id string, pid int, bundle string, annotations map[string]string) []byte {
	t.Helper()
	raw, err := json.Marshal(specs.State{Version: "1.0.2", ID: id, Status: "created", Pid: pid, Bundle: bundle, Annotations: annotations})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// checkErr holds err to the kind a case wants: nil, bad input (exit 2)
// or a refusal (exit 1) whose message says want.
func checkErr(t *testing.T, err error, wantCode int, want string) {
	t.Helper()
	if got := errkind.ExitCode(err); err != nil && got != wantCode || err == nil && wantCode != 0 {
		t.Fatalf("err = %v (exit %d), want exit %d", err, errkind.ExitCode(err), wantCode)
	}
	if err != nil && !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

func TestPrecreate(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		wantCode int
		wantErr  string
		// changed: the output differs from the input.
		changed bool
		warning string
	}{
		{name: "not opted in passes byte for byte", in: runcSpec(t, nil)},
		{name: "opted in gets the grant", in: runcSpec(t, optedIn), changed: true},
		{name: "refused passes unchanged with a warning", in: runcSpec(t, writableProcSys), warning: "/proc/sys"},
		{name: "not a spec", in: []byte("process: {}"), wantCode: 2, wantErr: "not a JSON object"},
		{name: "empty", in: nil, wantCode: 2, wantErr: "input is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, stdout := testEnv(tt.in)
			out, err := Precreate(env)
			checkErr(t, err, tt.wantCode, tt.wantErr)
			if err != nil {
				return
			}
			if changed := !bytes.Equal(stdout.Bytes(), tt.in); changed != tt.changed {
				t.Fatalf("output changed = %v, want %v", changed, tt.changed)
			}
			if !strings.Contains(out.Warning, tt.warning) || (tt.warning == "") != (out.Warning == "") {
				t.Errorf("warning %q, want one that says %q", out.Warning, tt.warning)
			}
			if tt.changed && (!out.OptedIn || out.Profile != "minimal" || len(out.Changes) == 0) {
				t.Errorf("outcome %+v", out)
			}
		})
	}
}

func TestCreateRuntime(t *testing.T) {
	opted := map[string]string{spec.AnnotationRestore: "true"}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "config.json"), adjusted(t, runcSpec(t, optedIn)), 0o644); err != nil {
		t.Fatal(err)
	}
	linked := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "config.json"), filepath.Join(linked, "config.json")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		state    []byte
		wantCode int
		wantErr  string
	}{
		{name: "not opted in returns at once", state: state(t, "c1", 1, "/nonexistent", nil)},
		{name: "adjusted bundle passes", state: state(t, "c2", 1, bundle(t, adjusted(t, runcSpec(t, optedIn))), opted)},
		{name: "bundle without the grant is refused", state: state(t, "c3", 1, bundle(t, runcSpec(t, optedIn)), opted), wantCode: 1, wantErr: "CAP_CHECKPOINT_RESTORE"},
		{name: "writable /proc/sys is refused", state: state(t, "c4", 1, bundle(t, runcSpec(t, writableProcSys)), opted), wantCode: 1, wantErr: "/proc/sys"},
		{name: "relative bundle", state: state(t, "c5", 1, "bundle", opted), wantCode: 2, wantErr: "not an absolute path"},
		{name: "missing bundle", state: state(t, "c6", 1, "/nonexistent/bundle", opted), wantCode: 2, wantErr: "open bundle"},
		{name: "config.json leading outside the bundle", state: state(t, "c7", 1, linked, opted), wantCode: 2, wantErr: "leads outside the bundle"},
		{name: "state without an id", state: state(t, "", 1, "/b", opted), wantCode: 2, wantErr: "state has no id"},
		{name: "state with a negative pid", state: state(t, "c8", -4, "/b", opted), wantCode: 2, wantErr: "pid -4"},
		{name: "state that is not JSON", state: []byte("{"), wantCode: 2, wantErr: "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := testEnv(tt.state)
			_, err := CreateRuntime(env)
			checkErr(t, err, tt.wantCode, tt.wantErr)
		})
	}
}

// TestPoststart checks a real child process as the container. In the
// test's own PID and mount namespace the live checks fail, so the stage
// must refuse, say why, and kill the child.
func TestPoststart(t *testing.T) {
	opted := map[string]string{spec.AnnotationRestore: "true"}
	// No process has a PID above the largest pid_max; a reaped child's
	// PID could be another process's by now, which the stage would kill.
	const gone = 1<<22 + 1
	tests := []struct {
		name     string
		pid      func(t *testing.T) (int, func() error)
		notes    map[string]string
		wantCode int
		wantErr  string
		warning  string
	}{
		{name: "not opted in returns at once", pid: fixedPID(1)},
		{name: "no pid", pid: fixedPID(0), notes: opted, wantCode: 2, wantErr: "has no pid"},
		{name: "exited process is a warning", pid: fixedPID(gone), notes: opted, warning: "exited before"},
		{name: "a process that fails the checks is killed", pid: sleeper, notes: opted, wantCode: 1, wantErr: "crhook killed pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, wait := tt.pid(t)
			env, _ := testEnv(state(t, "c", pid, "/b", tt.notes))
			out, err := Poststart(env)
			checkErr(t, err, tt.wantCode, tt.wantErr)
			if !strings.Contains(out.Warning, tt.warning) || (tt.warning == "") != (out.Warning == "") {
				t.Errorf("warning %q, want one that says %q", out.Warning, tt.warning)
			}
			if wait == nil {
				return
			}
			done := make(chan error, 1)
			go func() { done <- wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Error("the container's process was not killed")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the container's process still runs")
			}
		})
	}
}

func fixedPID(pid int) func(*testing.T) (int, func() error) {
	return func(*testing.T) (int, func() error) { return pid, nil }
}

// sleeper starts a process for poststart to check, and returns its pid
// and how to wait for it.
func sleeper(t *testing.T) (int, func() error) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd.Process.Pid, cmd.Wait
}

func TestPatch(t *testing.T) {
	tests := []struct {
		name     string
		config   []byte
		wantCode int
		wantErr  string
	}{
		{name: "opts a bundle in", config: runcSpec(t, nil)},
		{name: "writable /proc/sys is refused", config: runcSpec(t, func(s *specs.Spec) { s.Linux.ReadonlyPaths = nil }), wantCode: 1, wantErr: "/proc/sys"},
		{name: "config.json that is not JSON", config: []byte("{"), wantCode: 2, wantErr: "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundle(t, tt.config)
			env, _ := testEnv(nil)
			out, err := Patch(env, dir, "")
			checkErr(t, err, tt.wantCode, tt.wantErr)
			after, readErr := os.ReadFile(filepath.Join(dir, "config.json"))
			if readErr != nil {
				t.Fatal(readErr)
			}
			if err != nil {
				if !bytes.Equal(after, tt.config) {
					t.Fatal("a refused patch changed config.json")
				}
				return
			}
			s, parseErr := spec.Parse(after)
			if parseErr != nil {
				t.Fatal(parseErr)
			}
			if !spec.OptedIn(s.Annotations) || len(out.Changes) == 0 {
				t.Fatalf("patched bundle not opted in: %+v", out)
			}
			// The runtime reads a patched bundle later: createRuntime checks it then.
			assertCrhookHooks(t, after, createRuntimeStage, poststartStage)
			again, err := Patch(env, dir, "")
			if err != nil || len(again.Changes) != 0 {
				t.Fatalf("second patch: %v, changes %v", err, again.Changes)
			}
		})
	}
}

func TestAdjustBundle(t *testing.T) {
	sandbox := func(s *specs.Spec) {
		s.Annotations = map[string]string{spec.AnnotationContainerdType: "sandbox"}
	}
	tests := []struct {
		name         string
		config       []byte
		runtimeOptIn spec.Profile
		changed      bool
	}{
		{name: "not opted in is untouched", config: runcSpec(t, nil)},
		{name: "annotation opts in", config: runcSpec(t, optedIn), changed: true},
		{name: "the runtime opts in", config: runcSpec(t, nil), runtimeOptIn: spec.ProfileMinimal, changed: true},
		{name: "a sandbox gets nothing", config: runcSpec(t, sandbox), runtimeOptIn: spec.ProfileMinimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundle(t, tt.config)
			env, _ := testEnv(nil)
			if _, err := AdjustBundle(env, dir, tt.runtimeOptIn); err != nil {
				t.Fatal(err)
			}
			after, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if changed := !bytes.Equal(after, tt.config); changed != tt.changed {
				t.Fatalf("changed = %v, want %v", changed, tt.changed)
			}
			if tt.changed {
				// The shim checks the config itself: poststart alone is a hook.
				assertCrhookHooks(t, after, poststartStage)
			}
		})
	}
}

// assertCrhookHooks checks that config registers crhook at stages, and
// at no other stage.
func assertCrhookHooks(t *testing.T, config []byte, stages ...string) {
	t.Helper()
	var s specs.Spec
	if err := json.Unmarshal(config, &s); err != nil {
		t.Fatal(err)
	}
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	var got []string
	for stage, hooks := range map[string][]specs.Hook{"prestart": s.Hooks.Prestart, createRuntimeStage: s.Hooks.CreateRuntime,
		"createContainer": s.Hooks.CreateContainer, "startContainer": s.Hooks.StartContainer, poststartStage: s.Hooks.Poststart} {
		for _, h := range hooks {
			if len(h.Args) > 1 && h.Args[1] == stage {
				got = append(got, stage)
			}
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(stages)); !slices.Equal(got, want) {
		t.Errorf("crhook hooks at %v, want %v", got, want)
	}
}

func TestAdjustExec(t *testing.T) {
	process := []byte(`{"user":{"uid":1000,"gid":1000},"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"]},"noNewPrivileges":true}`)
	tests := []struct {
		name     string
		config   []byte
		relative bool
		wantCode int
		wantErr  string
		granted  bool
	}{
		{name: "opted-in container's exec gets the grant", config: adjusted(t, runcSpec(t, optedIn)), granted: true},
		{name: "other containers' exec is untouched", config: runcSpec(t, nil)},
		{name: "relative process file", config: adjusted(t, runcSpec(t, optedIn)), relative: true, wantCode: 2, wantErr: "not an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundle(t, tt.config)
			file := filepath.Join(t.TempDir(), "process.json")
			if err := os.WriteFile(file, process, 0o600); err != nil {
				t.Fatal(err)
			}
			arg := file
			if tt.relative {
				arg = "process.json"
			}
			env, _ := testEnv(nil)
			_, err := AdjustExec(env, arg, dir)
			checkErr(t, err, tt.wantCode, tt.wantErr)
			after, readErr := os.ReadFile(file)
			if readErr != nil {
				t.Fatal(readErr)
			}
			if granted := bytes.Contains(after, []byte("CAP_CHECKPOINT_RESTORE")); granted != tt.granted {
				t.Fatalf("granted = %v, want %v: %s", granted, tt.granted, after)
			}
			if !tt.granted && !bytes.Equal(after, process) {
				t.Fatal("process file changed")
			}
		})
	}
}

// TestHooksCarryTheConfig: a config other than the default is named in
// the hook's arguments, never its env, which a hook stage does not read.
func TestHooksCarryTheConfig(t *testing.T) {
	tests := []struct {
		name, path string
		want       []string
	}{
		{name: "another config", path: "/etc/crhook/other.toml", want: []string{"--config", "/etc/crhook/other.toml"}},
		{name: "the default config", path: config.DefaultPath},
		{name: "no config file", path: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Path = tt.path
			checkHooks(t, cfg, tt.want)
		})
	}
}

func checkHooks(t *testing.T, cfg config.Config, wantExtra []string) {
	t.Helper()
	hooks := Hooks("/usr/local/bin/crhook-hook", cfg, createRuntimeStage, poststartStage)
	if len(hooks) != 2 {
		t.Errorf("hooks for %d stages, want 2: %v", len(hooks), hooks)
	}
	for stage, h := range hooks {
		if h.Path != "/usr/local/bin/crhook-hook" || !slices.Equal(h.Args, append([]string{"crhook", stage}, wantExtra...)) || len(h.Env) != 0 {
			t.Errorf("%s: %+v", stage, h)
		}
		if h.Timeout == nil || *h.Timeout != HookTimeout(cfg) || HookTimeout(cfg) <= int(cfg.Timeout.Seconds()) {
			t.Errorf("%s: timeout %v", stage, h.Timeout)
		}
	}
}
