package e2e

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// TestContainerdReadsCrhookEntry: containerd itself (config dump, which
// merges imports the way the daemon does) reads crhook's runtime entry
// with the node's runc settings, and keeps the rest of the CRI config:
// for config versions 1 and 2, a runc table in the main file or in an
// import. Debian's containerd is 1.6 and does not read version 3.
func TestContainerdReadsCrhookEntry(t *testing.T) {
	requireRoot(t)
	bin := requireTool(t, "containerd")
	tests := containerdConfigCases()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			config, record := filepath.Join(dir, "config.toml"), filepath.Join(dir, "install-record.json")
			tt.main = strings.ReplaceAll(tt.main, "DIR", dir)
			mustDo(t, os.WriteFile(config, []byte(tt.main), 0o644))
			for name, text := range tt.imports {
				mustDo(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
				mustDo(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
			}
			if r := crhook(t, nil, "install", "--for", "containerd", "--engine-config", config, "--record", record); r.Code != 0 {
				t.Fatalf("install: %s", r)
			}
			r := run(t, nil, bin, "--config", config, "config", "dump")
			if r.Code != 0 {
				t.Fatalf("containerd config dump: %s\n%s", r, readFile(t, config))
			}
			var dump map[string]any
			if err := toml.Unmarshal([]byte(r.Stdout), &dump); err != nil {
				t.Fatalf("dump does not parse: %v", err)
			}
			cri := tableAt(dump, "plugins", tt.plugin)
			if cri["sandbox_image"] != "example.com/pause:9" {
				t.Errorf("the node's sandbox_image is gone: %v", cri["sandbox_image"])
			}
			runtimes := tableAt(cri, "containerd", "runtimes")
			runc, crhookRT := tableAt(runtimes, "runc"), tableAt(runtimes, "crhook")
			if runc == nil || crhookRT == nil {
				t.Fatalf("containerd reads runtimes %v", keys(runtimes))
			}
			want := tableAt(runc, "options")
			got := tableAt(crhookRT, "options")
			if !strings.HasSuffix(got["BinaryName"].(string), "/crhook-runtime") {
				t.Errorf("crhook's BinaryName is %v", got["BinaryName"])
			}
			delete(got, "BinaryName")
			delete(want, "BinaryName")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("crhook's runc options differ from the node's:\ncrhook %v\nnode   %v", got, want)
			}
			if got, want := crhookRT["privileged_without_host_devices"], runc["privileged_without_host_devices"]; got != want {
				t.Errorf("privileged_without_host_devices %v, node %v", got, want)
			}
			if r := crhook(t, nil, "uninstall", "--for", "containerd", "--engine-config", config, "--record", record); r.Code != 0 || readFile(t, config) != tt.main {
				t.Errorf("uninstall did not give back the file: %s", r)
			}
		})
	}
}

// containerdConfigCase is a node's containerd config: the main file
// (DIR stands for its directory), the files it imports, and the plugin
// that holds the CRI settings.
type containerdConfigCase struct {
	name    string
	main    string
	imports map[string]string
	plugin  string
}

// criImport is a version 2 file that holds the node's whole CRI table.
const criImport = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "example.com/pause:9"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
`

// containerdConfigCases are config versions 1 and 2, with the runc table
// in the main file, in an import (found by a wildcard in a file or a
// directory name), or in an import of an import.
func containerdConfigCases() []containerdConfigCase {
	return []containerdConfigCase{
		{name: "version 2", plugin: "io.containerd.grpc.v1.cri", main: `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "example.com/pause:9"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    privileged_without_host_devices = true
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
      NoPivotRoot = true
      Root = "/run/containerd/runc-node"
`},
		{name: "version 1", plugin: "io.containerd.grpc.v1.cri", main: `[plugins.cri]
  sandbox_image = "example.com/pause:9"
  [plugins.cri.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins.cri.containerd.runtimes.runc.options]
      SystemdCgroup = true
`},
		{name: "version 2 with the CRI table in an import", plugin: "io.containerd.grpc.v1.cri",
			main: "version = 2\nimports = [\"DIR/conf.d/*.toml\"]\n", imports: map[string]string{"conf.d/10-node.toml": criImport}},
		{name: "version 2 with the CRI table in a file a directory wildcard imports", plugin: "io.containerd.grpc.v1.cri",
			main: "version = 2\nimports = [\"DIR/nodes/*/cri.toml\"]\n", imports: map[string]string{"nodes/a/cri.toml": criImport}},
		{name: "version 2 with the CRI table in an import of an import", plugin: "io.containerd.grpc.v1.cri",
			main: "version = 2\nimports = [\"node.toml\"]\n", imports: map[string]string{
				"node.toml":       "version = 2\nimports = [\"cri/10-cri.toml\"]\n",
				"cri/10-cri.toml": criImport}},
	}
}

func tableAt(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
