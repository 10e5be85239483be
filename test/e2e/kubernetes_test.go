package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// installerScript returns the install script and image of the DaemonSet
// in deploy/kubernetes, exactly as a node would run them.
func installerScript(t *testing.T) (script string, configToml string) {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "deploy", "kubernetes", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var ds appsv1.DaemonSet
		if err := yaml.Unmarshal(doc, &ds); err != nil || ds.Kind != "DaemonSet" {
			var cm struct {
				Kind string            `json:"kind"`
				Data map[string]string `json:"data"`
			}
			if yaml.Unmarshal(doc, &cm) == nil && cm.Kind == "ConfigMap" {
				configToml = cm.Data["config.toml"]
			}
			continue
		}
		script = ds.Spec.Template.Spec.InitContainers[0].Args[0]
	}
	if script == "" || configToml == "" {
		t.Fatal("daemonset.yaml has no installer script or config")
	}
	return script, configToml
}

// TestKubernetesInstaller runs the DaemonSet's install script in the image
// `make image` builds, with podman standing in for the kubelet: the host's
// root is a temporary directory with a containerd config. It installs the
// binary and the runtime entry with host paths, copies the admin config,
// and a second run changes nothing.
func TestKubernetesInstaller(t *testing.T) {
	requireRoot(t)
	script, configToml := installerScript(t)
	image := imageFromScript(t)
	hostRoot := t.TempDir()
	if err := os.MkdirAll(filepath.Join(hostRoot, "etc", "containerd"), 0o755); err != nil {
		t.Fatal(err)
	}
	containerdConfig := filepath.Join(hostRoot, "etc", "containerd", "config.toml")
	if err := os.WriteFile(containerdConfig, []byte("version = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	configDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(configDir, "config.toml"), []byte(configToml), 0o644); err != nil {
		t.Fatal(err)
	}
	runInstaller := func() result {
		args := append([]string{"--cgroup-manager=cgroupfs", "--runtime=runc", "run", "--rm"}, podmanRunFlags...)
		args = append(args, "--privileged", "--pid=host", "-e", "ENGINE=containerd",
			"-v", hostRoot+":/host", "-v", configDir+":/etc/crhook-config:ro", image, "/bin/sh", "-c", script)
		return podman(t, args...)
	}
	r := runInstaller()
	if r.Code != 0 {
		t.Fatalf("installer: %s", r)
	}
	if info, err := os.Stat(filepath.Join(hostRoot, "usr", "local", "bin", "crhook-hook")); err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("binary not installed: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(hostRoot, "usr", "local", "bin", "crhook-runtime")); err != nil || target != "crhook-hook" {
		t.Fatalf("crhook-runtime link: %q %v", target, err)
	}
	text, err := os.ReadFile(containerdConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), `BinaryName = '/usr/local/bin/crhook-runtime'`) || strings.Contains(string(text), hostRoot) {
		t.Fatalf("the config must point at the host's path:\n%s", text)
	}
	if got, err := os.ReadFile(filepath.Join(hostRoot, "etc", "crhook", "config.toml")); err != nil || string(got) != configToml {
		t.Fatalf("admin config not copied: %v", err)
	}
	if !strings.Contains(r.Stdout, "restart containerd") {
		t.Errorf("a change must lead to a restart (or say to do one): %s", r)
	}
	again := runInstaller()
	if again.Code != 0 || !strings.Contains(again.Stdout, "nothing to change") || strings.Contains(again.Stdout, "restart") {
		t.Fatalf("a second run must change nothing and restart nothing: %s", again)
	}
}

// imageFromScript builds the installer image with scripts/image.sh, the
// way `make image` does.
func imageFromScript(t *testing.T) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	scriptPath := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "image.sh")
	name := "localhost/crhook-e2e-installer:" + containerID("img")
	if r := run(t, nil, scriptPath, crhookBin, name); r.Code != 0 {
		t.Fatalf("image.sh: %s", r)
	}
	t.Cleanup(func() { podman(t, "rmi", "--force", name) })
	return name
}
