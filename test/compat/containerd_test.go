package compat

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/cmd/containerd/server/config"

	"github.com/crhook/crhook/install"
)

// nodeConfigV3 is a containerd 2.x node config: the runc runtime with
// the systemd cgroup driver kubelet expects, and a sandbox image.
const nodeConfigV3 = `version = 3
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "registry.k8s.io/pause:3.10"
[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  SystemdCgroup = true
`

// TestContainerd2LoadsTheDropIn feeds what install writes for a version 3
// config to containerd 2.x's own loader (LoadConfig, which follows
// imports and merges them key by key): Debian 12's containerd is 1.6
// and cannot read version 3, so this is where the 2.x layout meets
// containerd's code. The node's settings must survive beside crhook's
// runtime, which carries the node's runc options; uninstall must take
// the runtime away again.
func TestContainerd2LoadsTheDropIn(t *testing.T) {
	for _, tt := range []struct{ name, imports string }{
		{name: "no imports, crhook adds its own"},
		{name: "a relative pattern already covers the drop-in", imports: `imports = ["conf.d/*.toml"]` + "\n"},
		{name: "an absolute pattern elsewhere", imports: `imports = ["/nonexistent/*.toml"]` + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t)
			writeFile(t, o.EngineConfig, tt.imports+nodeConfigV3)
			apply(t, install.Containerd, o, false)
			runtimes := loadContainerd2(t, o.EngineConfig)
			crhook, ok := runtimes[install.RuntimeName].(map[string]any)
			if !ok {
				t.Fatalf("containerd 2.x sees no %s runtime: %v", install.RuntimeName, runtimes)
			}
			options, _ := crhook["options"].(map[string]any)
			if crhook["runtime_type"] != "io.containerd.runc.v2" || options["BinaryName"] != o.Runtime || options["SystemdCgroup"] != true {
				t.Errorf("crhook's runtime as containerd 2.x reads it: %v", crhook)
			}
			if runc, _ := runtimes["runc"].(map[string]any); runc["options"].(map[string]any)["SystemdCgroup"] != true {
				t.Errorf("the node's runc runtime lost its options: %v", runc)
			}
			apply(t, install.Containerd, o, true)
			if _, ok := loadContainerd2(t, o.EngineConfig)[install.RuntimeName]; ok {
				t.Error("containerd 2.x still sees crhook's runtime after uninstall")
			}
		})
	}
}

// TestContainerd2StopsOnAnImportedDirectory holds install's refusal of an
// imports entry that would take in crhook's drop-in directory to what
// containerd 2.x does with such a match: it does not start.
func TestContainerd2StopsOnAnImportedDirectory(t *testing.T) {
	o := testOptions(t)
	writeFile(t, o.EngineConfig, `imports = ["*"]`+"\n"+nodeConfigV3)
	if _, err := install.Containerd(o, false); err == nil || !strings.Contains(err.Error(), "cannot load a directory") {
		t.Fatalf("install: %v, want the refusal that names the directory", err)
	}
	if err := os.Mkdir(filepath.Join(filepath.Dir(o.EngineConfig), "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	var c config.Config
	c.Version = 3
	if err := config.LoadConfig(context.Background(), o.EngineConfig, &c); err == nil {
		t.Fatal("containerd 2.x loaded a config whose imports take in a directory; install's refusal has no reason")
	}
}

// loadContainerd2 loads path as containerd 2.x does and returns its CRI
// runtimes, having checked the node's sandbox image is still there.
func loadContainerd2(t *testing.T, path string) map[string]any {
	t.Helper()
	var c config.Config
	c.Version = 3 // what containerd 2.x's main asks for
	if err := config.LoadConfig(context.Background(), path, &c); err != nil {
		t.Fatalf("containerd 2.x cannot load the config: %v", err)
	}
	images, _ := c.Plugins["io.containerd.cri.v1.images"].(map[string]any)
	if pinned, _ := images["pinned_images"].(map[string]any); pinned["sandbox"] != "registry.k8s.io/pause:3.10" {
		t.Errorf("the node's sandbox image is gone: %v", images)
	}
	criRuntime, _ := c.Plugins["io.containerd.cri.v1.runtime"].(map[string]any)
	ctrd, _ := criRuntime["containerd"].(map[string]any)
	runtimes, _ := ctrd["runtimes"].(map[string]any)
	return runtimes
}

// writeFile writes data to path, mode 0644.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
