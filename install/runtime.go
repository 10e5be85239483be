package install

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
)

// EngineRuntime returns the OCI runtime program an engine's config makes
// it run containers with ("" when the config names none, and the engine
// takes runc from its PATH), so doctor can say which runc runs them:
// Docker's default-runtime entry, the path of containerd's runc
// (options.BinaryName), CRI-O's default handler's runtime_path. podman
// names its own (podman info), so it is not read here.
func EngineRuntime(engine string, o Options) (string, error) {
	switch engine {
	case "docker":
		return dockerDefaultRuntime(o)
	case "containerd":
		path := orDefault(o.EngineConfig, DefaultContainerdConfig)
		main, err := o.engineFile(path, true)
		if err != nil {
			return "", err
		}
		cfg, err := readContainerd(o, path, removeBlock(main))
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return cfg.nodeBinary(), nil
	case "crio":
		node, err := crioDefaultRuntime(o, orDefault(o.EngineConfig, DefaultCRIODropIn))
		if err != nil {
			return "", err
		}
		path, _ := node["runtime_path"].(string)
		return path, nil
	}
	return "", fmt.Errorf("%w %q", ErrUnknownEngine, engine)
}

// dockerDefaultRuntime reads daemon.json's default-runtime: "" for runc
// (dockerd's own default, runc from PATH), else that runtime's path.
func dockerDefaultRuntime(o Options) (string, error) {
	path := orDefault(o.EngineConfig, DefaultDockerConfig)
	data, err := o.engineFile(path, true)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return "", err
	}
	var cfg struct {
		Default  string `json:"default-runtime"`
		Runtimes map[string]struct {
			Path string `json:"path"`
		} `json:"runtimes"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	if cfg.Default == "" || cfg.Default == "runc" {
		return "", nil
	}
	rt, ok := cfg.Runtimes[cfg.Default]
	if !ok || rt.Path == "" {
		return cfg.Default, nil
	}
	return filepath.Clean(rt.Path), nil
}
