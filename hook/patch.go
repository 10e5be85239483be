package hook

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/config"
	"github.com/crhook/crhook/internal/atomicfile"
	"github.com/crhook/crhook/spec"
)

// Patch adjusts BUNDLE/config.json in place, for runtimes driven without
// a precreate stage: opts the container in with profile (or the policy's
// default), grants its capabilities, lets clone3 through, and registers
// crhook's createRuntime and poststart hooks. A second run changes nothing.
func Patch(env Env, bundle string, profile spec.Profile) (Outcome, error) {
	if !filepath.IsAbs(bundle) {
		abs, err := filepath.Abs(bundle)
		if err != nil {
			return Outcome{}, spec.BadInput(fmt.Errorf("bundle %q: %w", bundle, err))
		}
		bundle = abs
	}
	unlock, err := atomicfile.LockDir(bundle)
	if err != nil {
		return Outcome{}, inputError("open bundle", err)
	}
	defer unlock()
	raw, err := readBundleConfig(bundle)
	if err != nil {
		return Outcome{}, err
	}
	res, err := spec.Adjust(raw, spec.Options{
		Policy:  env.Config.Policy,
		OptIn:   true,
		Profile: profile,
		Hooks:   Hooks(env.Self, env.Config),
		Indent:  true,
	})
	out := Outcome{OptedIn: res.Request.OptedIn, Profile: string(res.Request.Profile), Changes: res.Changes}
	if err != nil {
		if errors.Is(err, spec.ErrProcSysWritable) {
			return out, fmt.Errorf("bundle %s not patched: %w", bundle, err)
		}
		return out, err
	}
	if !res.Changed {
		return out, nil
	}
	if err := atomicfile.WriteFile(filepath.Join(bundle, "config.json"), res.Output, 0o644); err != nil {
		return out, err
	}
	return out, nil
}

// Hooks returns crhook's own createRuntime and poststart entries. The
// runtime kills a hook after Timeout seconds; crhook gives up on its own
// a little earlier, with a message.
func Hooks(self string, cfg config.Config) map[string]specs.Hook {
	timeout := int(math.Ceil(cfg.Timeout.Seconds())) + 5
	var env []string
	if cfg.Path != "" && cfg.Path != config.DefaultPath {
		env = []string{config.EnvPath + "=" + cfg.Path}
	}
	hooks := map[string]specs.Hook{}
	for _, stage := range []string{"createRuntime", "poststart"} {
		hooks[stage] = specs.Hook{Path: self, Args: []string{"crhook", stage}, Env: env, Timeout: &timeout}
	}
	return hooks
}
