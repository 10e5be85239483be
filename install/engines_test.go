package install

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// daemonJSONCase is a daemon.json as the admin left it, before crhook
// installs into it.
type daemonJSONCase struct {
	name     string
	existing string
	wantErr  bool
	// removed: uninstall removes the file, which crhook created; any
	// other comes back byte for byte, with its mode.
	removed bool
}

func TestDockerDaemonJSON(t *testing.T) {
	for _, tt := range daemonJSONCases() {
		t.Run(tt.name, func(t *testing.T) { checkDaemonJSONCase(t, tt) })
	}
}

func daemonJSONCases() []daemonJSONCase {
	return []daemonJSONCase{
		{name: "no file", removed: true},
		{name: "empty file", existing: "  \n"},
		{name: "an empty object", existing: "{}"},
		{name: "an empty object and a newline", existing: "{}\n"},
		{name: "an empty runtimes object", existing: `{"runtimes":{}}`},
		{name: "an empty runtimes object, spaced", existing: "{ \"runtimes\": {} }\n"},
		{name: "other settings and runtimes", existing: `{"log-driver":"journald","runtimes":{"nvidia":{"path":"nvidia-container-runtime","runtimeArgs":[]}},"default-runtime":"runc","features":{"buildkit":true}}`},
		{name: "indented, as admins write it", existing: "{\n    \"debug\": true,\n    \"runtimes\": {\n        \"nvidia\": {\n            \"path\": \"/usr/bin/nvidia-container-runtime\"\n        }\n    }\n}\n"},
		{name: "indented without runtimes", existing: "{\n  \"storage-driver\": \"overlay2\",\n  \"log-opts\": {\"max-size\": \"10m\"}\n}\n"},
		{name: "installed by an earlier crhook", existing: `{"runtimes":{"crhook":{"path":"/old/crhook-runtime"}}}`, removed: true},
		{name: "null", existing: `null`},
		{name: "null runtimes", existing: `{"runtimes":null,"debug":true}`},
		{name: "not json", existing: `{"log-driver":`, wantErr: true},
		{name: "runtimes of the wrong type", existing: `{"runtimes":["crhook"]}`, wantErr: true},
	}
}

// checkDaemonJSONCase installs into tt's daemon.json, checks crhook's
// runtime is added and nothing else changed, then uninstalls.
func checkDaemonJSONCase(t *testing.T, tt daemonJSONCase) {
	t.Helper()
	o, ok := installOver(t, tt.existing, 0o600, Docker, tt.wantErr)
	if !ok {
		return
	}
	got := readJSON(t, o.EngineConfig)
	runtimes := got["runtimes"].(map[string]any)
	if runtimes["crhook"].(map[string]any)["path"] != o.Runtime {
		t.Errorf("runtimes: %v", runtimes)
	}
	if tt.existing != "" && strings.TrimSpace(tt.existing) != "" {
		checkDaemonJSONKept(t, tt.existing, got, runtimes)
	}
	if info, err := os.Stat(o.EngineConfig); tt.existing != "" && (err != nil || info.Mode().Perm() != 0o600) {
		t.Errorf("mode not kept: %v", info.Mode())
	}
	checkDockerUninstall(t, o, tt)
}

// checkDaemonJSONKept checks every setting of existing but crhook's
// runtime survived install into got, the nvidia runtime included.
func checkDaemonJSONKept(t *testing.T, existing string, got, runtimes map[string]any) {
	t.Helper()
	before := map[string]any{}
	if err := json.Unmarshal([]byte(existing), &before); err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		if k == "runtimes" {
			continue
		}
		if !equalJSON(t, got[k], v) {
			t.Errorf("setting %s changed: %v -> %v", k, v, got[k])
		}
	}
	beforeRuntimes, _ := before["runtimes"].(map[string]any)
	if nv, ok := beforeRuntimes["nvidia"]; ok && !equalJSON(t, runtimes["nvidia"], nv) {
		t.Error("the nvidia runtime entry changed")
	}
}

// checkDockerUninstall uninstalls and checks daemon.json is as it was
// before install: its bytes and mode, or no file when crhook made it.
func checkDockerUninstall(t *testing.T, o Options, tt daemonJSONCase) {
	t.Helper()
	undo, err := Docker(o, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := undo.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(o.EngineConfig)
	if tt.removed {
		if !os.IsNotExist(err) {
			t.Errorf("uninstall left a file crhook created: %v %q", err, after)
		}
		return
	}
	if err != nil || string(after) != tt.existing {
		t.Errorf("install then uninstall did not give the file back (%v):\nbefore %q\nafter  %q", err, tt.existing, after)
	}
	if info, err := os.Stat(o.EngineConfig); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("uninstall did not give the mode back: %v", info.Mode())
	}
}

// installOver writes existing (if any) as the engine's config with mode,
// then installs with engine. ok is false when the install failed as
// wantErr says it must, and the case is done.
func installOver(t *testing.T, existing string, mode os.FileMode, engine func(Options, bool) (Plan, error), wantErr bool) (o Options, ok bool) {
	t.Helper()
	o = testOptions(t)
	if existing != "" {
		if err := os.WriteFile(o.EngineConfig, []byte(existing), mode); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := engine(o, false)
	if wantErr {
		if err == nil {
			t.Fatal("want an error")
		}
		return o, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	return o, true
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s is not JSON: %v", path, err)
	}
	return m
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// containerdConfigCase is a containerd config as the admin left it, and
// the table crhook's runtime entry must land in.
type containerdConfigCase struct {
	name      string
	existing  string
	wantTable string
	wantErr   bool
	// dropIn: the entry goes into conf.d, imported by the main file.
	dropIn bool
}

func TestContainerdConfig(t *testing.T) {
	for _, tt := range containerdConfigCases() {
		t.Run(tt.name, func(t *testing.T) { checkContainerdConfigCase(t, tt) })
	}
}

func containerdConfigCases() []containerdConfigCase {
	const v2 = `# my containerd config
version = 2
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  restrict_oom_score_adj = true
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`
	return []containerdConfigCase{
		{name: "no file", wantTable: `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crhook`},
		{name: "version 2", existing: v2, wantTable: `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crhook`},
		{name: "version 1", existing: "[plugins.cri]\n  sandbox_image = \"pause\"\n", wantTable: `plugins.cri.containerd.runtimes.crhook`},
		{name: "version 3", existing: "version = 3\n", dropIn: true, wantTable: `plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crhook`},
		{name: "no trailing newline", existing: strings.TrimSuffix(v2, "\n"), wantTable: `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crhook`},
		{name: "unknown version", existing: "version = 9\n", wantErr: true},
		{name: "broken toml", existing: "version = \n", wantErr: true},
		{name: "version 3 imports everything beside it", existing: "version = 3\nimports = [\"*\"]\n", wantErr: true},
		{name: "version 3 imports the drop-in directory", existing: "version = 3\nimports = [\"conf.d\"]\n", wantErr: true},
		{name: "admin defined crhook already", existing: v2 + "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crhook]\n  runtime_type = \"x\"\n", wantErr: true},
	}
}

// checkContainerdConfigCase installs into tt's config, checks the entry,
// that a second install changes nothing, and that uninstall restores it.
func checkContainerdConfigCase(t *testing.T, tt containerdConfigCase) {
	t.Helper()
	o, ok := installOver(t, tt.existing, 0o644, Containerd, tt.wantErr)
	if !ok {
		return
	}
	data := readContainerdEntryFile(t, o, tt)
	checkContainerdEntry(t, o, tt.wantTable, data)
	if pending := pendingOf(t, Containerd, o); len(pending) != 0 {
		t.Errorf("a second install would change %d files", len(pending))
	}
	checkContainerdUninstall(t, o, tt.existing)
}

// readContainerdEntryFile returns the file that holds crhook's entry
// after install, having checked the main file kept the admin's part.
func readContainerdEntryFile(t *testing.T, o Options, tt containerdConfigCase) []byte {
	t.Helper()
	data, err := os.ReadFile(o.EngineConfig)
	if err != nil {
		t.Fatal(err)
	}
	if tt.dropIn {
		// containerd 2.x: the main file only imports crhook's drop-in.
		dropIn := filepath.Join(filepath.Dir(o.EngineConfig), containerdDropIn)
		want := "imports = [" + strconv.Quote(dropIn) + "]" + importsMarker + "\n" + tt.existing
		if string(data) != want {
			t.Errorf("main file:\n%s\nwant\n%s", data, want)
		}
		if data, err = os.ReadFile(dropIn); err != nil {
			t.Fatal(err)
		}
	} else if !strings.HasPrefix(string(data), strings.TrimSuffix(tt.existing, "\n")) {
		t.Errorf("the admin's part was rewritten:\n%s", data)
	}
	return data
}

// checkContainerdEntry checks data holds, at table, a runc v2 entry
// running crhook's runtime that passes crhook's annotations to pods.
func checkContainerdEntry(t *testing.T, o Options, table string, data []byte) {
	t.Helper()
	var cfg map[string]any
	if err := toml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, data)
	}
	entry := lookupTable(cfg, tomlPath(table))
	if entry == nil || entry["runtime_type"] != "io.containerd.runc.v2" ||
		entry["options"].(map[string]any)["BinaryName"] != o.Runtime {
		t.Fatalf("runtime entry at %s: %v\n%s", table, entry, data)
	}
	if pa := entry["pod_annotations"].([]any); len(pa) != 1 || pa[0] != "io.crhook.*" {
		t.Errorf("pod_annotations %v", pa)
	}
}

// checkContainerdUninstall uninstalls and checks the config is back to
// existing, or gone when there was none.
func checkContainerdUninstall(t *testing.T, o Options, existing string) {
	t.Helper()
	undo, err := Containerd(o, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := undo.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	restored, err := os.ReadFile(o.EngineConfig)
	if existing == "" {
		if !os.IsNotExist(err) {
			t.Errorf("uninstall should remove a file that did not exist before install: %v %q", err, restored)
		}
		return
	}
	if string(restored) != existing {
		t.Errorf("uninstall did not give the file back byte for byte:\n%q\nwant\n%q", restored, existing)
	}
}

// tomlPath splits a dotted TOML key with quoted parts.
func tomlPath(key string) []string {
	var parts []string
	for key != "" {
		if key[0] == '"' {
			end := strings.Index(key[1:], `"`) + 1
			parts = append(parts, key[1:end])
			key = strings.TrimPrefix(key[end+1:], ".")
			continue
		}
		part, rest, _ := strings.Cut(key, ".")
		parts = append(parts, part)
		key = rest
	}
	return parts
}

// installCRIOEntry installs for CRI-O with o and returns the drop-in it
// wrote, decoded, and crhook's runtime entry in it.
func installCRIOEntry(t *testing.T, o Options) (cfg map[string]any, entry map[string]any) {
	t.Helper()
	plan, err := CRIO(o, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	dropIn, err := os.ReadFile(filepath.Join(o.EngineConfig, crioDropInName))
	if err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal(dropIn, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, lookupTable(cfg, []string{"crio", "runtime", "runtimes", "crhook"})
}

func TestCRIODropIn(t *testing.T) {
	o := testOptions(t)
	o.EngineConfig = t.TempDir()
	cfg, entry := installCRIOEntry(t, o)
	if entry == nil || entry["runtime_path"] != o.Runtime || entry["runtime_type"] != "oci" {
		t.Fatalf("drop-in: %v", cfg)
	}
	allowed := entry["allowed_annotations"].([]any)
	if len(allowed) != 2 || allowed[0] != "io.crhook.restore" || allowed[1] != "io.crhook.profile" {
		t.Errorf("allowed_annotations %v", allowed)
	}
	for _, stage := range crioStages {
		if _, err := os.Stat(hookFileName(o.HooksDir, stage)); err != nil {
			t.Errorf("no %s hook: %v", stage, err)
		}
	}
	if _, err := os.Stat(hookFileName(o.HooksDir, "precreate")); err == nil {
		t.Error("CRI-O has no precreate stage; crhook-runtime adjusts the spec")
	}
	// test/compat loads these files with CRI-O's own hooks.d loader.
}

func TestDryRunWritesNothing(t *testing.T) {
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			o := testOptions(t)
			o.Runtime = filepath.Join(t.TempDir(), "crhook-runtime")
			plan, err := For(engine, o, false)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := plan.DryRun(&out); err != nil {
				t.Fatal(err)
			}
			for _, c := range plan.Changes {
				if _, err := os.Lstat(c.Path); !os.IsNotExist(err) {
					t.Errorf("dry run created %s", c.Path)
				}
				if !strings.Contains(out.String(), c.Path) {
					t.Errorf("dry run does not show %s", c.Path)
				}
			}
		})
	}
}

func TestUnknownEngine(t *testing.T) {
	if _, err := For("lxc", testOptions(t), false); err == nil || !strings.Contains(err.Error(), "podman, docker, containerd, crio") {
		t.Fatalf("err = %v", err)
	}
}

// TestHostRoot: installing from a pod writes under the mounted host root
// while every path inside the files is the host's own.
func TestHostRoot(t *testing.T) {
	hostRoot := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Hook: "/usr/local/bin/crhook", Runtime: "/usr/local/bin/crhook-runtime", Timeout: 10, HostRoot: hostRoot, Binary: self}
	for _, engine := range []string{"containerd", "crio"} {
		plan, err := For(engine, o, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Apply(io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, c := range plan.Changes {
			if !strings.HasPrefix(c.Path, hostRoot+"/") {
				t.Errorf("%s: %s is outside the host root", engine, c.Path)
			}
			if bytes.Contains(c.Content, []byte(hostRoot)) && c.Mode != 0o755 {
				t.Errorf("%s: %s names the pod's mount of the host", engine, c.Path)
			}
		}
	}
	if info, err := os.Stat(filepath.Join(hostRoot, "usr/local/bin/crhook")); err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("binary: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(hostRoot, DefaultContainerdConfig))
	if err != nil || !strings.Contains(string(data), `BinaryName = '/usr/local/bin/crhook-runtime'`) {
		t.Fatalf("containerd config: %v\n%s", err, data)
	}
	if _, err := os.Stat(filepath.Join(hostRoot, DefaultCRIODropIn, crioDropInName)); err != nil {
		t.Fatal(err)
	}
}

// TestHostRootLinkStaysInside: from a pod, an absolute link on the host
// (/etc/containerd/config.toml -> /srv/containerd.toml) means the host's
// /srv, not the pod's: install reads and writes inside the host root and
// never touches the pod's own file of that name.
func TestHostRootLinkStaysInside(t *testing.T) {
	hostRoot := t.TempDir()
	podFile := filepath.Join(t.TempDir(), "containerd.toml")
	if err := os.WriteFile(podFile, []byte("# the pod's own file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	onHost := filepath.Join(hostRoot, podFile)
	if err := os.MkdirAll(filepath.Dir(onHost), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(onHost, []byte("version = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(hostRoot, DefaultContainerdConfig)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(podFile, link); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Hook: "/usr/local/bin/crhook-hook", Runtime: "/usr/local/bin/crhook-runtime", Timeout: 10, HostRoot: hostRoot, Binary: self}
	plan, err := For("containerd", o, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(podFile); string(got) != "# the pod's own file\n" {
		t.Fatalf("install wrote outside the host root: %s is now %q", podFile, got)
	}
	if got, _ := os.ReadFile(onHost); !strings.Contains(string(got), "crhook") {
		t.Fatalf("the host's file did not get crhook's entry:\n%s", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the host's link was replaced: %v", err)
	}
}

// TestContainerdKeepsRuncSettings: crhook's entry carries the node's runc
// runtime, options and all (SystemdCgroup first: kubelet and the runtime
// must agree on the cgroup driver), read as containerd reads the config,
// imports included.
func TestContainerdKeepsRuncSettings(t *testing.T) {
	tests := slices.Concat(runcSettingsInOneFileCases(), runcSettingsInImportsCases())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRuncSettingsCase(t, tt) })
	}
}

// runcSettingsCase is a containerd config, imports included, and what
// crhook's entry must take from its runc runtime.
type runcSettingsCase struct {
	name    string
	main    string
	imports map[string]string
	// want are keys of crhook's entry (options.X for its options).
	want    map[string]any
	path    string
	dropIn  bool
	mainOut string // the main file after install, when it must be exact
	// entryIn is the import that must hold crhook's block: the last
	// file with the CRI table, which containerd 1.x takes whole.
	entryIn string
}

// containerdCRIv2 is the CRI plugin's containerd table in a version 2
// config.
const containerdCRIv2 = `plugins."io.containerd.grpc.v1.cri".containerd`

// runcSettingsInOneFileCases keep every setting in the main file.
func runcSettingsInOneFileCases() []runcSettingsCase {
	return []runcSettingsCase{
		{name: "version 2, SystemdCgroup and more", path: containerdCRIv2, main: `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  privileged_without_host_devices = true
  pod_annotations = ["example.com/x"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
    Root = "/run/containerd/runc"
    NoPivotRoot = true
    BinaryName = "/usr/sbin/runc"
`, want: map[string]any{"options.SystemdCgroup": true, "options.Root": "/run/containerd/runc", "options.NoPivotRoot": true,
			"privileged_without_host_devices": true, "pod_annotations": []any{"example.com/x", "io.crhook.*"}}},
		{name: "version 2, the default runtime by another name", path: containerdCRIv2, main: `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "node-runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.node-runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.node-runc.options]
      SystemdCgroup = true
`, want: map[string]any{"options.SystemdCgroup": true}},
		{name: "version 2, a default runtime that is not runc", path: containerdCRIv2, main: `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "kata"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
    runtime_type = "io.containerd.kata.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata.options]
      ConfigPath = "/etc/kata.toml"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
`, want: map[string]any{"options.SystemdCgroup": true, "options.ConfigPath": nil}},
		{name: "version 1", path: `plugins.cri.containerd`, main: `[plugins.cri.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins.cri.containerd.runtimes.runc.options]
    SystemdCgroup = true
`, want: map[string]any{"options.SystemdCgroup": true}},
	}
}

// runcSettingsInImportsCases spread the config over imports, or have
// crhook's entry go into a drop-in.
func runcSettingsInImportsCases() []runcSettingsCase {
	return []runcSettingsCase{
		{name: "version 2, runc settings in an import (a plugin table replaced whole)", path: containerdCRIv2, main: "version = 2\nimports = [\"node.toml\"]\n" + `[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "pause"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
`, imports: map[string]string{"node.toml": `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
`}, entryIn: "node.toml", want: map[string]any{"options.SystemdCgroup": true}},
		{name: "version 2, runc settings in an import of an import", path: containerdCRIv2, main: "version = 2\nimports = [\"a.toml\"]\n",
			imports: map[string]string{"a.toml": "version = 2\nimports = [\"b.toml\"]\n", "b.toml": `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
`}, entryIn: "b.toml", want: map[string]any{"options.SystemdCgroup": true}},
		{name: "version 3, runc settings in a file a directory wildcard imports", path: `plugins."io.containerd.cri.v1.runtime".containerd`, dropIn: true,
			main: "version = 3\nimports = [\"nodes/*/cri.toml\"]\n", imports: map[string]string{"nodes/a/cri.toml": `version = 3
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  SystemdCgroup = true
`}, want: map[string]any{"options.SystemdCgroup": true}},
		{name: "version 3, a drop-in the main file already imports", path: `plugins."io.containerd.cri.v1.runtime".containerd`, dropIn: true,
			main: "version = 3\nimports = [\"conf.d/*.toml\"]\n" + `[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  SystemdCgroup = true
`, mainOut: "version = 3\nimports = [\"conf.d/*.toml\"]\n" + `[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  SystemdCgroup = true
`, want: map[string]any{"options.SystemdCgroup": true}},
		{name: "version 3, added to the imports list", path: `plugins."io.containerd.cri.v1.runtime".containerd`, dropIn: true,
			main: "imports = [\"/etc/containerd/other.toml\"]\nversion = 3\n",
			want: map[string]any{"options.BinaryName": "/usr/local/bin/crhook-runtime"}},
	}
}

// TestContainerdImportsWalkIsBounded: a wildcard import that would have
// crhook read more of the host than any node config imports is refused
// with a line that names the pattern.
func TestContainerdImportsWalkIsBounded(t *testing.T) {
	defer func(old int) { maxGlobEntries = old }(maxGlobEntries)
	maxGlobEntries = 10
	o := testOptions(t)
	dir := filepath.Dir(o.EngineConfig)
	for i := range maxGlobEntries + 1 {
		mustWrite(t, filepath.Join(dir, "nodes", strconv.Itoa(i), "cri.toml"), "version = 3\n")
	}
	mustWrite(t, o.EngineConfig, "version = 3\nimports = [\"nodes/*/cri.toml\"]\n")
	_, err := Containerd(o, false)
	if err == nil || !strings.Contains(err.Error(), `imports pattern "`+filepath.Join(dir, "nodes/*/cri.toml")+`" reaches more than 10 directory entries`) {
		t.Fatalf("install: %v, want the refusal naming the pattern", err)
	}
}

// checkRuncSettingsCase installs into tt's config, checks crhook's entry
// carries the runc settings, then uninstalls.
func checkRuncSettingsCase(t *testing.T, tt runcSettingsCase) {
	t.Helper()
	o := testOptions(t)
	// The path the entries name; Containerd makes no link there.
	o.Runtime = "/usr/local/bin/crhook-runtime"
	dir := filepath.Dir(o.EngineConfig)
	mustWrite(t, o.EngineConfig, tt.main)
	for name, text := range tt.imports {
		mustWrite(t, filepath.Join(dir, name), text)
	}
	plan, err := Containerd(o, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	entryFile := readRuncSettingsEntryFile(t, o, tt)
	checkRuncSettingsEntry(t, o, tt, entryFile)
	checkRuncSettingsUninstall(t, o, tt)
}

// readRuncSettingsEntryFile returns the file that must hold crhook's
// entry after install: the drop-in, tt's entryIn or the main file, which
// must then read as tt's mainOut says.
func readRuncSettingsEntryFile(t *testing.T, o Options, tt runcSettingsCase) []byte {
	t.Helper()
	dir := filepath.Dir(o.EngineConfig)
	main, err := os.ReadFile(o.EngineConfig)
	if err != nil {
		t.Fatal(err)
	}
	if tt.mainOut != "" && string(main) != tt.mainOut {
		t.Errorf("main file:\n%s\nwant\n%s", main, tt.mainOut)
	}
	entryFile := main
	dropIn := filepath.Join(dir, containerdDropIn)
	switch {
	case tt.dropIn:
		if entryFile, err = os.ReadFile(dropIn); err != nil {
			t.Fatal(err)
		}
	case tt.entryIn != "":
		if entryFile, err = os.ReadFile(filepath.Join(dir, tt.entryIn)); err != nil {
			t.Fatal(err)
		}
	}
	return entryFile
}

// checkRuncSettingsEntry checks crhook's entry in entryFile runs
// crhook's runtime and holds every key tt wants.
func checkRuncSettingsEntry(t *testing.T, o Options, tt runcSettingsCase, entryFile []byte) {
	t.Helper()
	var cfg map[string]any
	if err := toml.Unmarshal(entryFile, &cfg); err != nil {
		t.Fatalf("does not parse: %v\n%s", err, entryFile)
	}
	entry := lookupTable(cfg, append(tomlPath(tt.path), "runtimes", RuntimeName))
	if entry == nil {
		t.Fatalf("no crhook entry:\n%s", entryFile)
	}
	if got := entry["options"].(map[string]any)["BinaryName"]; got != o.Runtime {
		t.Errorf("BinaryName %v, want crhook-runtime", got)
	}
	for key, want := range tt.want {
		table, k := entry, key
		if rest, ok := strings.CutPrefix(key, "options."); ok {
			table, k = entry["options"].(map[string]any), rest
		}
		if got := table[k]; !equalJSON(t, got, want) {
			t.Errorf("%s = %v, want %v\n%s", key, got, want, entryFile)
		}
	}
}

// checkRuncSettingsUninstall uninstalls and checks the main file and
// every import are back as they were and the drop-in is gone.
func checkRuncSettingsUninstall(t *testing.T, o Options, tt runcSettingsCase) {
	t.Helper()
	dir := filepath.Dir(o.EngineConfig)
	undo, err := Containerd(o, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := undo.Apply(io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(o.EngineConfig); string(got) != tt.main {
		t.Errorf("uninstall did not give back the main file:\n%s\nwant\n%s", got, tt.main)
	}
	for name, text := range tt.imports {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != text {
			t.Errorf("uninstall did not give back %s:\n%s", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, containerdDropIn)); !os.IsNotExist(err) {
		t.Errorf("uninstall left the drop-in: %v", err)
	}
}

func mustWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCRIOCopiesTheDefaultHandler: crhook's handler takes the node's
// default handler's settings, read as CRI-O merges its drop-ins (a
// handler table in a later file replaces the earlier one whole), and
// keeps its own runtime_path and the opt-in annotations.
func TestCRIOCopiesTheDefaultHandler(t *testing.T) {
	o := testOptions(t)
	o.EngineConfig = t.TempDir()
	mustWrite(t, filepath.Join(o.EngineConfig, "00-node.conf"), `[crio.runtime]
default_runtime = "runc"
[crio.runtime.runtimes.runc]
runtime_path = "/usr/bin/runc"
runtime_root = "/run/runc"
monitor_path = "/usr/libexec/crio/conmon"
allowed_annotations = ["io.kubernetes.cri-o.Devices"]
[crio.runtime.runtimes.crun]
runtime_path = "/usr/bin/crun"
`)
	mustWrite(t, filepath.Join(o.EngineConfig, "10-node.conf"), `[crio.runtime.runtimes.runc]
runtime_path = "/usr/local/bin/runc"
runtime_root = "/run/runc-node"
monitor_env = ["PATH=/usr/local/bin:/usr/bin"]
allowed_annotations = ["io.kubernetes.cri-o.Devices"]
`)
	_, entry := installCRIOEntry(t, o)
	want := map[string]any{
		"runtime_path": o.Runtime, "runtime_root": "/run/runc-node", "runtime_type": "oci",
		"monitor_env":         []any{"PATH=/usr/local/bin:/usr/bin"},
		"allowed_annotations": []any{"io.kubernetes.cri-o.Devices", "io.crhook.restore", "io.crhook.profile"},
	}
	for k, v := range want {
		if !equalJSON(t, entry[k], v) {
			t.Errorf("%s = %v, want %v", k, entry[k], v)
		}
	}
	if _, ok := entry["monitor_path"]; ok {
		t.Error("monitor_path came from a runc table a later drop-in replaced")
	}
}

// pendingOf is what engine's install would change now.
func pendingOf(t *testing.T, engine func(Options, bool) (Plan, error), o Options) []Change {
	t.Helper()
	plan, err := engine(o, false)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openRoot(plan.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pending, err := plan.pending(d, plan.Changes)
	if err != nil {
		t.Fatal(err)
	}
	return pending
}
