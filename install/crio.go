package install

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/crhook/crhook/spec"
)

// CRI-O's drop-in directory and the hooks.d directory it reads by default.
const (
	DefaultCRIODropIn   = "/etc/crio/crio.conf.d"
	DefaultCRIOHooksDir = "/usr/share/containers/oci/hooks.d"
	crioDropInName      = "99-crhook.conf"
)

// crioStages: CRI-O has no precreate stage (crhook-runtime adjusts the
// spec), so hooks.d only carries the checks.
var crioStages = []string{"createRuntime", "poststart"}

// DefaultCRIOConfig is CRI-O's main config file, read before the drop-ins.
const DefaultCRIOConfig = "/etc/crio/crio.conf"

// CRIO returns the plan for CRI-O: a drop-in that adds the crhook runtime
// and lets the opt-in annotations through, and hooks.d files for the
// checks. The runtime copies the settings of the node's default runtime
// handler that decide how a container runs (runtime_root, monitor_path,
// monitor_env, ...), as CRI-O reads them from crio.conf and its drop-ins.
func CRIO(o Options, uninstall bool) (Plan, error) {
	dropInDir := orDefault(o.EngineConfig, DefaultCRIODropIn)
	dropIn := filepath.Join(dropInDir, crioDropInName)
	hooksDir := orDefault(o.HooksDir, DefaultCRIOHooksDir)
	p := o.plan("crio", uninstall, CRIO)
	p.Next = []string{"restart crio; Kubernetes pods select it with runtimeClassName: " + RuntimeName}
	if uninstall {
		p.Changes = append([]Change{{Path: o.onHost(dropIn), Why: "crhook's CRI-O drop-in"}}, hooksdRemovals(o, hooksDir, crioStages)...)
		return p, nil
	}
	if err := o.validate(); err != nil {
		return p, err
	}
	node, err := crioDefaultRuntime(o, dropInDir)
	if err != nil {
		return p, err
	}
	text, err := crioDropInText(o.runtimeEntry(), node)
	if err != nil {
		return p, err
	}
	p.Changes = []Change{{Path: o.onHost(dropIn), Content: []byte(text), Mode: 0o644, Whole: true,
		Why: "add the " + RuntimeName + " runtime and allow the " + spec.AnnotationPrefix + "* annotations"}}
	hooks, err := hooksdChanges(o, hooksDir, crioStages)
	p.Changes = append(p.Changes, hooks...)
	return p, err
}

// crioCopied are the default handler's settings crhook's handler takes
// over (CRI-O's RuntimeHandler keys that decide how a container runs).
// runtime_path is crhook-runtime's own; inherit_default_runtime would
// overwrite it.
var crioCopied = []string{
	"runtime_type", "runtime_root", "runtime_config_path", "monitor_path", "monitor_cgroup", "monitor_env",
	"monitor_exec_cgroup", "privileged_without_host_devices", "allowed_annotations", "container_min_memory",
	"default_annotations", "seccomp_profile", "exec_cpu_affinity", "platform_runtime_paths",
}

// crioDefaultRuntime reads the default runtime handler's table as CRI-O
// does: crio.conf, then each drop-in in name order (crhook's own left
// out), a later file's key winning, and a handler table in a later file
// replacing the earlier one whole (CRI-O's mergeConfigFiles). nil when
// the node names none.
func crioDefaultRuntime(o Options, dropInDir string) (map[string]any, error) {
	files := []string{DefaultCRIOConfig}
	if o.EngineConfig != "" {
		files = nil // a test's or an unusual layout: only its drop-ins
	}
	dropIns, err := o.hostGlob([]string{filepath.Join(dropInDir, "*.conf")})
	if err != nil {
		return nil, err
	}
	files = append(files, dropIns...)
	defaultName := ""
	runtimes := map[string]any{}
	for _, file := range files {
		if filepath.Base(file) == crioDropInName {
			continue
		}
		data, err := o.engineFile(file, true)
		if err != nil {
			return nil, err
		}
		var cfg map[string]any
		if err := toml.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		rt := lookupTable(cfg, []string{"crio", "runtime"})
		if name, ok := rt["default_runtime"].(string); ok {
			defaultName = name
		}
		handlers, _ := rt["runtimes"].(map[string]any)
		for name, h := range handlers {
			runtimes[name] = h
		}
	}
	if defaultName == "" {
		// CRI-O's own default: crun from 1.31, runc before; take the one
		// the node configures.
		for _, name := range []string{"crun", "runc"} {
			if _, ok := runtimes[name]; ok {
				defaultName = name
				break
			}
		}
	}
	node, _ := runtimes[defaultName].(map[string]any)
	return node, nil
}

// crioDropInText is crhook's drop-in: the crhook handler with the node's
// default handler's settings, crhook-runtime as its binary, and the
// opt-in annotations allowed.
func crioDropInText(runtimePath string, node map[string]any) (string, error) {
	handler := map[string]any{"runtime_type": "oci", "runtime_root": "/run/crhook-runc"}
	for _, key := range crioCopied {
		if v, ok := node[key]; ok {
			handler[key] = v
		}
	}
	handler["runtime_path"] = runtimePath
	handler["allowed_annotations"] = union(stringList(handler["allowed_annotations"]), []string{spec.AnnotationRestore, spec.AnnotationProfile})
	var b strings.Builder
	b.WriteString(ownFileMarker + " --for crio`; `crhook uninstall --for crio` removes it.\n")
	if err := writeTable(&b, []string{"crio", "runtime", "runtimes", RuntimeName}, handler); err != nil {
		return "", err
	}
	return b.String(), nil
}
