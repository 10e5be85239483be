package install

import (
	"fmt"
	"path/filepath"
	"strings"

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

// CRIO returns the plan for CRI-O: a drop-in that adds the crhook runtime
// and lets the opt-in annotations through, and hooks.d files for the
// checks.
func CRIO(o Options, uninstall bool) (Plan, error) {
	dropIn := filepath.Join(orDefault(o.EngineConfig, DefaultCRIODropIn), crioDropInName)
	hooksDir := orDefault(o.HooksDir, DefaultCRIOHooksDir)
	p := Plan{Engine: "crio", Next: []string{"restart crio; Kubernetes pods select it with runtimeClassName: " + RuntimeName}}
	if uninstall {
		p.Changes = append([]Change{{Path: o.onHost(dropIn), Why: "crhook's CRI-O drop-in"}}, hooksdRemovals(o, hooksDir, crioStages)...)
		return p, nil
	}
	if err := o.validate(); err != nil {
		return p, err
	}
	p.Changes = []Change{{Path: o.onHost(dropIn), Content: []byte(crioDropInText(o.runtimeEntry())), Mode: 0o644,
		Why: "add the " + RuntimeName + " runtime and allow the " + spec.AnnotationPrefix + "* annotations"}}
	hooks, err := hooksdChanges(o, hooksDir, crioStages)
	p.Changes = append(p.Changes, hooks...)
	return p, err
}

func crioDropInText(runtimePath string) string {
	var b strings.Builder
	b.WriteString("# Managed by `crhook install --for crio`; `crhook uninstall --for crio` removes it.\n")
	fmt.Fprintf(&b, "[crio.runtime.runtimes.%s]\n", RuntimeName)
	fmt.Fprintf(&b, "runtime_path = %q\n", runtimePath)
	fmt.Fprintf(&b, "runtime_type = %q\n", "oci")
	fmt.Fprintf(&b, "runtime_root = %q\n", "/run/crhook-runc")
	fmt.Fprintf(&b, "allowed_annotations = [%q, %q]\n", spec.AnnotationRestore, spec.AnnotationProfile)
	return b.String()
}
