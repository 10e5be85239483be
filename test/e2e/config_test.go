package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/spec"
)

// TestHookStagesIgnoreTheEnvConfig: a spec that carries crhook's own
// createRuntime and poststart entries (crhook's path and arguments, so
// patch and the shim take them for their own) with an env that names a
// config of the spec's choosing. Its checks must run under the admin's
// config, not that one. Here the spec's config allows shared PID
// namespaces and the spec shares the host's: the admin's default refuses
// it, under runc and crun.
func TestHookStagesIgnoreTheEnvConfig(t *testing.T) {
	lax, _ := writeConfig(t, "allow_shared_pid_namespace = true\n")
	forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
		log := followDefaultLog(t)
		b := newBundle(t, "echo", "container-ran")
		b.Edit(t, func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
			addToEverySet(s, spec.CapCheckpointRestore)
			s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
			env := []string{config.EnvPath + "=" + lax}
			s.Hooks = &specs.Hooks{
				CreateRuntime: []specs.Hook{{Path: hookBin, Args: []string{"crhook", "createRuntime"}, Env: env}},
				Poststart:     []specs.Hook{{Path: hookBin, Args: []string{"crhook", "poststart"}, Env: env}},
			}
		})
		before := readFile(t, b.ConfigPath())
		if r := crhook(t, nil, "patch", "--bundle", b.Dir); r.Code != 1 || !strings.Contains(r.Stderr, "PID namespace") {
			t.Errorf("patch, under the admin's default config, must refuse: %s", r)
		}
		if readFile(t, b.ConfigPath()) != before {
			t.Error("a refused patch changed config.json")
		}
		r := rt.run(t, b)
		if r.Code == 0 || strings.Contains(r.Stdout, "container-ran") {
			t.Fatalf("the container must not start: its checks ran under the spec's config: %s", r)
		}
		if rt.showsHookStderr && !strings.Contains(r.Stderr, "shares the runtime's (the host's) PID namespace") {
			t.Errorf("the runtime's error must carry crhook's reason: %s", r)
		}
		if !slices.ContainsFunc(log(), func(l logLine) bool {
			return l.Stage == "createRuntime" && l.Result == "refused" && strings.Contains(l.Error, "PID namespace")
		}) {
			t.Errorf("%s has no createRuntime refusal for this container", config.DefaultLogFile)
		}
	})
}

// followDefaultLog returns what crhook's default log gains from now on:
// hooks that name no config log there.
func followDefaultLog(t *testing.T) func() []logLine {
	t.Helper()
	var offset int64
	if info, err := os.Stat(config.DefaultLogFile); err == nil {
		offset = info.Size()
	}
	return func() []logLine {
		t.Helper()
		data, err := os.ReadFile(config.DefaultLogFile)
		if err != nil || int64(len(data)) < offset {
			t.Fatalf("read %s: %v", config.DefaultLogFile, err)
		}
		return parseLogLines(t, data[offset:])
	}
}

// TestRecordedByDefault: with no log_file and no syslog (this host has
// no /dev/log), a grant and each admin override still leave a line in
// crhook's default log, from patch and from the checks of the running
// container.
func TestRecordedByDefault(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/dev/log"); err == nil {
		t.Log("this host has a syslog socket; the default log must take the lines all the same")
	}
	tests := []struct {
		name, config string
		edit         func(*specs.Spec)
		patchArgs    []string
		// want is what some line of the stage says, in its changes or notes.
		want map[string]string
	}{
		{name: "a grant, no config file", want: map[string]string{"patch": "added CAP_CHECKPOINT_RESTORE", "createRuntime": "", "poststart": ""}},
		{name: "allow_shared_pid_namespace", config: "allow_shared_pid_namespace = true\n",
			edit: func(s *specs.Spec) {
				s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
			},
			want: map[string]string{"patch": "allow_shared_pid_namespace = true", "createRuntime": "allow_shared_pid_namespace = true", "poststart": "allow_shared_pid_namespace = true"}},
		{name: "checkpoint_seccomp = remove", config: "allowed_profiles = [\"minimal\", \"restore\", \"checkpoint\"]\ncheckpoint_seccomp = \"remove\"\n",
			edit:      func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) },
			patchArgs: []string{"--profile", "checkpoint"},
			want:      map[string]string{"patch": "removed linux.seccomp", "createRuntime": "", "poststart": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := followDefaultLog(t)
			b := newBundle(t, "true")
			if tt.edit != nil {
				b.Edit(t, tt.edit)
			}
			args := append([]string{"patch", "--bundle", b.Dir}, tt.patchArgs...)
			if tt.config != "" {
				path := filepath.Join(t.TempDir(), "config.toml")
				mustDo(t, os.WriteFile(path, []byte(tt.config), 0o644))
				args = append(args, "--config", path)
			}
			if r := crhook(t, nil, args...); r.Code != 0 {
				t.Fatalf("patch: %s", r)
			}
			if r := runcRun(t, b); r.Code != 0 {
				t.Fatalf("runc: %s", r)
			}
			lines := log()
			for stage, want := range tt.want {
				if !slices.ContainsFunc(lines, func(l logLine) bool {
					return l.Stage == stage && l.OptedIn && l.Result == "ok" && strings.Contains(strings.Join(append(l.Changes, l.Notes...), "; "), want)
				}) {
					t.Errorf("%s has no %s line saying %q: %+v", config.DefaultLogFile, stage, want, lines)
				}
			}
		})
	}
}
