package compat

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containers/common/pkg/hooks"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/install"
	"github.com/crhook/crhook/spec"
)

// testOptions points the hooks at the test binary: podman's loader skips
// a hook whose program does not exist.
func testOptions(t *testing.T) install.Options {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return install.Options{Hook: exe, Runtime: "/usr/local/bin/crhook-runtime", Timeout: 10, HooksDir: t.TempDir(), EngineConfig: filepath.Join(t.TempDir(), "engine.conf")}
}

// apply plans install (or uninstall) for one engine and writes it.
func apply(t *testing.T, engine func(install.Options, bool) (install.Plan, error), o install.Options, uninstall bool) install.Plan {
	t.Helper()
	plan, err := engine(o, uninstall)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	return plan
}

// installPodman writes the files install plans for podman and checks
// each is mode 0644.
func installPodman(t *testing.T, o install.Options) {
	t.Helper()
	plan := apply(t, install.Podman, o, false)
	for _, c := range plan.Changes {
		info, err := os.Stat(c.Path)
		if err != nil || info.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v mode %v", c.Path, err, info.Mode())
		}
	}
}

// TestPodmanHooksLoad feeds the files install writes to the hooks loader
// podman itself uses (containers/common pkg/hooks), with podman's
// extension stage precreate, and checks what it injects.
func TestPodmanHooksLoad(t *testing.T) {
	o := testOptions(t)
	o.Config = "/etc/crhook/other.toml"
	installPodman(t, o)
	manager, err := hooks.New(context.Background(), []string{o.HooksDir}, []string{"precreate", "poststop"})
	if err != nil {
		t.Fatalf("podman's loader rejects the files: %v", err)
	}
	tests := []struct {
		name        string
		annotations map[string]string
		wantStages  []string
	}{
		{name: "opted in", annotations: map[string]string{spec.AnnotationRestore: "true"}, wantStages: []string{"precreate", "createRuntime", "poststart"}},
		{name: "not annotated", annotations: map[string]string{"other": "true"}},
		{name: "false", annotations: map[string]string{spec.AnnotationRestore: "false"}},
		{name: "regexp does not match look-alike keys", annotations: map[string]string{"ioXcrhookXrestore": "true", "io.crhook.restore.x": "true"}},
		{name: "value must be exactly true", annotations: map[string]string{spec.AnnotationRestore: "true; CAP_SYS_ADMIN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Annotations: tt.annotations}
			ext, err := manager.Hooks(s, tt.annotations, false)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]specs.Hook{"precreate": ext["precreate"]}
			if s.Hooks != nil {
				got["createRuntime"] = s.Hooks.CreateRuntime
				got["poststart"] = s.Hooks.Poststart
				if len(s.Hooks.Prestart)+len(s.Hooks.CreateContainer)+len(s.Hooks.StartContainer)+len(s.Hooks.Poststop) > 0 {
					t.Errorf("hooks injected at other stages: %+v", s.Hooks)
				}
			}
			for stage, hs := range got {
				want := 0
				for _, w := range tt.wantStages {
					if w == stage {
						want = 1
					}
				}
				if len(hs) != want {
					t.Fatalf("stage %s got %d hooks, want %d", stage, len(hs), want)
				}
				if want == 1 {
					h := hs[0]
					// The admin's config is named in the arguments: a hook
					// stage reads no config from its env.
					if h.Path != o.Hook || !slices.Equal(h.Args, []string{"crhook-hook", stage, "--config", "/etc/crhook/other.toml"}) ||
						h.Timeout == nil || *h.Timeout != 10 || len(h.Env) != 0 {
						t.Errorf("stage %s hook: %+v", stage, h)
					}
				}
			}
		})
	}
}

// TestCRIOHooksLoad: CRI-O reads hooks.d with the same loader as podman,
// without extension stages; the checks must be injected, nothing else.
func TestCRIOHooksLoad(t *testing.T) {
	o := testOptions(t)
	o.EngineConfig = t.TempDir()
	apply(t, install.CRIO, o, false)
	manager, err := hooks.New(context.Background(), []string{o.HooksDir}, nil)
	if err != nil {
		t.Fatalf("the hooks loader rejects the files: %v", err)
	}
	s := &specs.Spec{}
	if _, err := manager.Hooks(s, map[string]string{spec.AnnotationRestore: "true"}, false); err != nil {
		t.Fatal(err)
	}
	if s.Hooks == nil || len(s.Hooks.CreateRuntime) != 1 || len(s.Hooks.Poststart) != 1 || len(s.Hooks.Prestart) != 0 {
		t.Fatalf("CRI-O would inject %+v", s.Hooks)
	}
}
