package install

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/containers/common/pkg/hooks"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/spec"
)

// testOptions points Crhook at the test binary: podman's loader skips a
// hook whose program does not exist.
func testOptions(t *testing.T) Options {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Hook: exe, Runtime: "/usr/local/bin/crhook-runtime", Timeout: 10, HooksDir: t.TempDir(), EngineConfig: filepath.Join(t.TempDir(), "engine.conf")}
}

// TestPodmanHooksLoad feeds the files install writes to the hooks loader
// podman itself uses (containers/common pkg/hooks), with podman's
// extension stage precreate, and checks what it injects.
func TestPodmanHooksLoad(t *testing.T) {
	o := testOptions(t)
	o.Config = "/etc/crhook/other.toml"
	plan, err := Podman(o, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		info, err := os.Stat(c.Path)
		if err != nil || info.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v mode %v", c.Path, err, info.Mode())
		}
	}
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
					if h.Path != o.Hook || len(h.Args) != 2 || h.Args[1] != stage || h.Timeout == nil || *h.Timeout != 10 ||
						len(h.Env) != 1 || h.Env[0] != "CRHOOK_CONFIG=/etc/crhook/other.toml" {
						t.Errorf("stage %s hook: %+v", stage, h)
					}
				}
			}
		})
	}
}

func TestHooksdInstallIsIdempotentAndUninstallRemovesOnlyCrhook(t *testing.T) {
	o := testOptions(t)
	other := filepath.Join(o.HooksDir, "other.json")
	if err := os.WriteFile(other, []byte(`{"version":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"podman", "crio"} {
		t.Run(engine, func(t *testing.T) {
			o.EngineConfig = t.TempDir()
			plan, err := For(engine, o, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Apply(io.Discard); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := plan.Apply(&out); err != nil || !bytes.Contains(out.Bytes(), []byte("nothing to change")) {
				t.Fatalf("second install: %v %q", err, out.String())
			}
			undo, err := For(engine, o, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := undo.Apply(io.Discard); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(o.HooksDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "other.json" {
				t.Errorf("after uninstall the hooks dir holds %v, want only other.json", entries)
			}
		})
	}
}
