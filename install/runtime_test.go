package install

import (
	"path/filepath"
	"testing"
)

// TestEngineRuntime: the runtime program each engine's config names.
func TestEngineRuntime(t *testing.T) {
	tests := []struct {
		name, engine, file, text, want string
	}{
		{name: "docker without a daemon.json", engine: "docker"},
		{name: "docker's own default", engine: "docker", file: "daemon.json", text: `{"debug":true}`},
		{name: "docker default-runtime runc", engine: "docker", file: "daemon.json", text: `{"default-runtime":"runc"}`},
		{name: "docker default-runtime of its own", engine: "docker", file: "daemon.json",
			text: `{"default-runtime":"new","runtimes":{"new":{"path":"/opt/runc-1.5/runc"}}}`, want: "/opt/runc-1.5/runc"},
		{name: "containerd's runc from PATH", engine: "containerd", file: "config.toml", text: "version = 2\n"},
		{name: "containerd's runc BinaryName", engine: "containerd", file: "config.toml",
			text: "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  BinaryName = \"/opt/runc-1.5/runc\"\n", want: "/opt/runc-1.5/runc"},
		{name: "CRI-O's default handler", engine: "crio", file: "10-runtime.conf",
			text: "[crio.runtime]\ndefault_runtime = \"runc\"\n[crio.runtime.runtimes.runc]\nruntime_path = \"/opt/runc-1.5/runc\"\n", want: "/opt/runc-1.5/runc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{EngineConfig: filepath.Join(dir, "daemon.json")}
			switch tt.engine {
			case "containerd":
				o.EngineConfig = filepath.Join(dir, "config.toml")
			case "crio":
				o.EngineConfig = dir
			}
			if tt.file != "" {
				writeMode(t, filepath.Join(dir, tt.file), tt.text, 0o644)
			}
			got, err := EngineRuntime(tt.engine, o)
			if err != nil || got != tt.want {
				t.Errorf("EngineRuntime = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
