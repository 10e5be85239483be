package install

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DefaultDockerConfig is dockerd's config file.
const DefaultDockerConfig = "/etc/docker/daemon.json"

// Docker returns the plan for Docker: a "crhook" entry under "runtimes"
// in daemon.json, merged into the existing file. Other keys are kept.
func Docker(o Options, uninstall bool) (Plan, error) {
	path := orDefault(o.EngineConfig, DefaultDockerConfig)
	p := Plan{Engine: "docker"}
	current, err := o.engineFile(path, uninstall)
	if err != nil {
		return p, err
	}
	next, err := mergeDaemonJSON(current, o.Runtime, uninstall)
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	why := "add the " + RuntimeName + " runtime"
	if uninstall {
		why = "remove the " + RuntimeName + " runtime"
	}
	p.Changes = []Change{{Path: o.onHost(path), Content: next, Mode: 0o644, Why: why}}
	p.Next = []string{"restart dockerd (systemctl restart docker), then: docker run --runtime " + RuntimeName + " --annotation io.crhook.restore=true ..."}
	if uninstall {
		p.Next = []string{"restart dockerd"}
	}
	return p, nil
}

// mergeDaemonJSON adds or removes runtimes.crhook in daemon.json. Only
// that entry changes; every other member is copied as it was.
func mergeDaemonJSON(current []byte, runtimePath string, uninstall bool) ([]byte, error) {
	var root map[string]json.RawMessage
	if len(bytes.TrimSpace(current)) > 0 {
		if err := json.Unmarshal(current, &root); err != nil {
			return nil, fmt.Errorf("parse daemon.json: %w", err)
		}
	}
	// A file of null, or "runtimes": null, decodes to a nil map.
	if root == nil {
		root = map[string]json.RawMessage{}
	}
	var runtimes map[string]json.RawMessage
	if raw, ok := root["runtimes"]; ok {
		if err := json.Unmarshal(raw, &runtimes); err != nil {
			return nil, fmt.Errorf("parse daemon.json runtimes: %w", err)
		}
	}
	if runtimes == nil {
		runtimes = map[string]json.RawMessage{}
	}
	if uninstall {
		if _, ok := runtimes[RuntimeName]; !ok {
			return current, nil
		}
		delete(runtimes, RuntimeName)
	} else {
		entry, err := json.Marshal(map[string]string{"path": runtimePath})
		if err != nil {
			return nil, err
		}
		runtimes[RuntimeName] = entry
	}
	if len(runtimes) == 0 {
		delete(root, "runtimes")
	} else {
		raw, err := json.Marshal(runtimes)
		if err != nil {
			return nil, err
		}
		root["runtimes"] = raw
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode daemon.json: %w", err)
	}
	return append(out, '\n'), nil
}
