package install

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUninstallGivesBack: uninstall gives back each engine file as it
// was before install (bytes, mode and owner), removes what did not
// exist, and where the admin changed a file since install takes out only
// crhook's part. The record goes with the last file it holds.
func TestUninstallGivesBack(t *testing.T) {
	tests := []struct {
		name   string
		engine func(Options, bool) (Plan, error)
		// file is the engine file the case is about.
		file     func(o Options) string
		existing string
		// between runs after install, as an admin would edit.
		between func(t *testing.T, path string)
		want    string
		removed bool
	}{
		{name: "daemon.json of {} mode 0600", engine: Docker, file: engineConfig, existing: "{}", want: "{}"},
		{name: "daemon.json installed twice", engine: Docker, file: engineConfig, existing: "{}\n", want: "{}\n",
			between: func(t *testing.T, _ string) { t.Helper() }},
		{name: "daemon.json the admin edited since", engine: Docker, file: engineConfig, existing: "{\"debug\":true}\n",
			between: func(t *testing.T, path string) {
				editFile(t, path, func(s string) string { return strings.Replace(s, `"debug":true`, `"debug":false`, 1) })
			}, want: "{\"debug\":false}\n"},
		{name: "a hooks.d file of crhook's name the admin had", engine: Podman, file: hooksdFile("createRuntime"), existing: `{"version":"1.0.0"}`, want: `{"version":"1.0.0"}`},
		{name: "a hooks.d file install created", engine: Podman, file: hooksdFile("poststart"), removed: true},
		{name: "containerd's config without a newline at its end", engine: Containerd, file: engineConfig, existing: "version = 2\nroot = \"/r\"", want: "version = 2\nroot = \"/r\""},
		{name: "containerd's drop-in crhook created", engine: Containerd, file: dropIn, existing: "", removed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t)
			if tt.name == "containerd's drop-in crhook created" {
				writeMode(t, o.EngineConfig, "version = 3\n", 0o644)
			}
			path := tt.file(o)
			if tt.existing != "" {
				writeMode(t, path, tt.existing, 0o600)
				mustDo(t, os.Chown(path, 1234, 1234))
			}
			apply(t, tt.engine, o, false)
			if tt.between != nil {
				tt.between(t, path)
				apply(t, tt.engine, o, false)
			}
			if info, err := os.Stat(o.Record); err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("install kept no record, or one others can read: %v", err)
			}
			apply(t, tt.engine, o, true)
			got, err := os.ReadFile(path)
			if tt.removed {
				if !os.IsNotExist(err) {
					t.Errorf("uninstall left %s, which did not exist before install: %q", path, got)
				}
			} else {
				if err != nil || string(got) != tt.want {
					t.Errorf("uninstall gave back %q (%v), want %q", got, err, tt.want)
				}
				assertOwnerMode(t, path, 1234, 0o600)
			}
			if _, err := os.Stat(o.Record); !os.IsNotExist(err) {
				t.Errorf("the record outlived the files it held: %v", err)
			}
		})
	}
}

func engineConfig(o Options) string { return o.EngineConfig }

func dropIn(o Options) string {
	return filepath.Join(filepath.Dir(o.EngineConfig), containerdDropIn)
}

func hooksdFile(stage string) func(Options) string {
	return func(o Options) string { return hookFileName(o.HooksDir, stage) }
}

func apply(t *testing.T, engine func(Options, bool) (Plan, error), o Options, uninstall bool) {
	t.Helper()
	p, err := engine(o, uninstall)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
}

func editFile(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, os.WriteFile(path, []byte(edit(string(data))), 0o600))
}

func writeMode(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	mustDo(t, os.MkdirAll(filepath.Dir(path), 0o755))
	mustDo(t, os.WriteFile(path, []byte(data), mode))
	mustDo(t, os.Chmod(path, mode))
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertOwnerMode(t *testing.T, path string, owner int, mode os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if info.Mode().Perm() != mode || int(st.Uid) != owner || int(st.Gid) != owner {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", path, info.Mode().Perm(), st.Uid, st.Gid, mode, owner, owner)
	}
}

// TestUninstallDropsTheRecordOfFilesAlreadyGone: files someone removed
// by hand after install leave no record behind once uninstall ran.
func TestUninstallDropsTheRecordOfFilesAlreadyGone(t *testing.T) {
	o := testOptions(t)
	apply(t, Podman, o, false)
	for _, stage := range podmanStages {
		mustDo(t, os.Remove(hookFileName(o.HooksDir, stage)))
	}
	apply(t, Podman, o, true)
	if _, err := os.Stat(o.Record); !os.IsNotExist(err) {
		t.Errorf("the record outlived the files it held: %v", err)
	}
}
