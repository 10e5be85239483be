package install

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzContainerd: for any config.toml, install either refuses with an
// error or writes files containerd's TOML reader takes, holding crhook's
// entry; uninstall then gives back the main file byte for byte. Never a
// panic.
func FuzzContainerd(f *testing.F) {
	for _, seed := range []string{
		"", "version = 2\n", "version = 3\n", "version = 1\n", "version = \"2\"\n", "version = 9\n",
		"[plugins.cri]\n  sandbox_image = \"p\"\n",
		"version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n  Extra = [1, 2]\n  When = 1979-05-27T07:32:00Z\n",
		"version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"r\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.r]\n  runtime_type = \"io.containerd.runc.v2\"\n  [[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.r.x]]\n    a = 1\n",
		"version = 3\nimports = [\"/nonexistent/*.toml\", \"rel.toml\"]\n",
		"imports = [1]\nversion = 2\n",
		"version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  \"odd key\" = \"x\\ny\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, main []byte) {
		if strings.Contains(string(main), "crhook") {
			return // an admin's own crhook entry is refused or replaced by design
		}
		o := testOptions(t)
		if err := os.WriteFile(o.EngineConfig, main, 0o644); err != nil {
			t.Fatal(err)
		}
		plan, err := Containerd(o, false)
		if err != nil {
			return
		}
		if err := plan.Apply(io.Discard); err != nil {
			t.Fatalf("apply: %v", err)
		}
		for _, c := range plan.Changes {
			if c.Content == nil {
				continue
			}
			var v map[string]any
			if err := toml.Unmarshal(c.Content, &v); err != nil {
				t.Fatalf("%s does not parse after install: %v\n%s", c.Path, err, c.Content)
			}
		}
		undo, err := Containerd(o, true)
		if err != nil {
			t.Fatalf("uninstall after install: %v", err)
		}
		if err := undo.Apply(io.Discard); err != nil {
			t.Fatalf("apply uninstall: %v", err)
		}
		// Uninstall gives the file back from install's record, to the
		// byte, white space and a missing final newline included.
		got, err := os.ReadFile(o.EngineConfig)
		if err != nil || string(got) != string(main) {
			t.Fatalf("install then uninstall changed the main file:\nbefore %q\nafter  %q (%v)", main, got, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(o.EngineConfig), containerdDropIn)); err == nil {
			t.Fatal("uninstall left the drop-in")
		}
	})
}

// FuzzCRIODropIn: for any CRI-O drop-in on the node, install refuses or
// writes a drop-in CRI-O's TOML reader takes, whose crhook handler runs
// crhook-runtime and allows the opt-in annotations. Never a panic.
func FuzzCRIODropIn(f *testing.F) {
	for _, seed := range []string{
		"", "[crio.runtime]\ndefault_runtime = \"runc\"\n[crio.runtime.runtimes.runc]\nruntime_root = \"/run/runc\"\nmonitor_env = [\"A=b\"]\n",
		"[crio.runtime]\ndefault_runtime = 5\n", "[crio.runtime.runtimes.crun]\nallowed_annotations = \"x\"\n",
		"[crio.runtime.runtimes.runc]\n[[crio.runtime.runtimes.runc.platform_runtime_paths]]\na = 1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, node []byte) {
		o := testOptions(t)
		o.EngineConfig = t.TempDir()
		if err := os.WriteFile(filepath.Join(o.EngineConfig, "00-node.conf"), node, 0o644); err != nil {
			t.Fatal(err)
		}
		plan, err := CRIO(o, false)
		if err != nil {
			return
		}
		var cfg map[string]any
		if err := toml.Unmarshal(plan.Changes[0].Content, &cfg); err != nil {
			t.Fatalf("drop-in does not parse: %v\n%s", err, plan.Changes[0].Content)
		}
		entry := lookupTable(cfg, []string{"crio", "runtime", "runtimes", RuntimeName})
		allowed := stringList(entry["allowed_annotations"])
		if entry["runtime_path"] != o.Runtime || !containsAll(allowed, "io.crhook.restore", "io.crhook.profile") {
			t.Fatalf("crhook handler %v", entry)
		}
	})
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			found = found || l == w
		}
		if !found {
			return false
		}
	}
	return true
}
