package install

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/spec"
)

// DefaultHooksDir is where podman and CRI-O read admin hooks.
const DefaultHooksDir = "/etc/containers/oci/hooks.d"

// hookFile is a hooks.d entry, schema 1.0.0 (oci-hooks(5)).
type hookFile struct {
	Version string     `json:"version"`
	Hook    specs.Hook `json:"hook"`
	When    hookWhen   `json:"when"`
	Stages  []string   `json:"stages"`
}

type hookWhen struct {
	// Annotations maps a key regexp to a value regexp.
	Annotations map[string]string `json:"annotations"`
}

// hookFileName is crhook's hooks.d file for stage; one file per stage,
// because an entry passes the same arguments to every stage it lists.
func hookFileName(dir, stage string) string {
	return filepath.Join(dir, "crhook-"+stage+".json")
}

// hooksdChanges are crhook's hooks.d files for stages, each gated on the
// opt-in annotation (anchored regexps: the loader matches by regexp).
func hooksdChanges(o Options, dir string, stages []string) ([]Change, error) {
	var changes []Change
	for _, stage := range stages {
		h := hookFile{
			Version: "1.0.0",
			Hook:    specs.Hook{Path: o.Hook, Args: hook.HookArgs("crhook-hook", stage, o.Config), Timeout: &o.Timeout},
			When: hookWhen{Annotations: map[string]string{
				"^" + regexp.QuoteMeta(spec.AnnotationRestore) + "$": "^true$",
			}},
			Stages: []string{stage},
		}
		data, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode %s hook: %w", stage, err)
		}
		changes = append(changes, Change{
			Path: o.onHost(hookFileName(dir, stage)), Content: append(data, '\n'), Mode: 0o644, Whole: true,
			Why: "run crhook " + stage + " for containers annotated " + spec.AnnotationRestore + "=true",
		})
	}
	return changes, nil
}

func hooksdRemovals(o Options, dir string, stages []string) []Change {
	var changes []Change
	for _, stage := range stages {
		changes = append(changes, Change{Path: o.onHost(hookFileName(dir, stage)), Why: "crhook's " + stage + " hook"})
	}
	return changes
}

// podmanStages: precreate adjusts the spec; podman shows createRuntime's
// refusal to the user; poststart checks the live container.
var podmanStages = []string{"precreate", "createRuntime", "poststart"}

// Podman returns the plan for podman: three hooks.d files.
func Podman(o Options, uninstall bool) (Plan, error) {
	dir := orDefault(o.HooksDir, DefaultHooksDir)
	p := o.plan("podman", uninstall, Podman)
	if uninstall {
		p.Changes = hooksdRemovals(o, dir, podmanStages)
		return p, nil
	}
	if err := o.validate(); err != nil {
		return p, err
	}
	changes, err := hooksdChanges(o, dir, podmanStages)
	p.Changes = changes
	p.Next = []string{"run containers with --annotation " + spec.AnnotationRestore + "=true"}
	if dir != DefaultHooksDir {
		p.Next = append(p.Next, "pass --hooks-dir "+dir+" to podman, or add it to hooks_dir in containers.conf")
	}
	return p, err
}
