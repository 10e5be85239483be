package hook

import (
	"fmt"
	"math"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/internal/hostpath"
	"github.com/crhook/crhook/spec"
)

// Patch opts the bundle in with profile (or the policy's default) and
// adjusts its config.json in place, for runtimes driven without a
// precreate stage: it grants the profile's capabilities, lets clone3
// through, sets the annotations and registers crhook's createRuntime and
// poststart hooks. A second run changes nothing. The runtime may read the
// bundle much later, after others changed it: createRuntime checks it then.
func Patch(env Env, bundle string, profile spec.Profile) (Outcome, error) {
	out, _, err := adjustBundle(env, bundle, spec.Options{OptIn: true, Profile: profile}, userBundle, createRuntimeStage, poststartStage)
	if err != nil {
		return out, fmt.Errorf("bundle %s not patched: %w", bundle, err)
	}
	return out, nil
}

// AdjustBundle adjusts BUNDLE/config.json in place for a container that
// opted in, as the runtime shim does before create: through its own
// annotations, or, when runtimeOptIn is set, because the engine chose
// crhook's runtime for it (see spec.Options.RuntimeOptIn). Other
// containers' files are not touched.
//
// The shim execs the runtime right after, and the runtime reads the
// config this wrote. So the config check createRuntime would make runs
// here, in this process, on those very bytes, and only the poststart
// hook is registered: one hook process fewer on every start.
func AdjustBundle(env Env, bundle string, runtimeOptIn spec.Profile) (Outcome, error) {
	out, cfg, err := adjustBundle(env, bundle, spec.Options{RuntimeOptIn: runtimeOptIn}, engineBundle, poststartStage)
	if err != nil || !out.OptedIn {
		return out, err
	}
	s, err := spec.Parse(cfg.raw)
	if err != nil {
		return out, err
	}
	return out, checkConfig(s, cfg.req, cfg.bundle)
}

// Hook stages crhook registers.
const (
	createRuntimeStage = "createRuntime"
	poststartStage     = "poststart"
)

// bundleKind says whose bundle an adjustment writes: one a user keeps
// (patch), synced to disk; or one an engine made for the container it is
// starting, which lives no longer than the boot (the shim).
type bundleKind int

const (
	userBundle bundleKind = iota
	engineBundle
)

// adjustedConfig is the config.json an adjustment left in the bundle.
type adjustedConfig struct {
	bundle string
	raw    []byte
	req    spec.Request
}

func adjustBundle(env Env, bundle string, opts spec.Options, kind bundleKind, stages ...string) (Outcome, adjustedConfig, error) {
	if !filepath.IsAbs(bundle) {
		abs, err := filepath.Abs(bundle)
		if err != nil {
			return Outcome{}, adjustedConfig{}, errkind.BadInput(fmt.Errorf("bundle %q: %w", bundle, err))
		}
		bundle = abs
	}
	// One directory fd for the lock, the read and the write: a bundle
	// whose paths change in between cannot redirect the write.
	d, err := openBundle(bundle)
	if err != nil {
		return Outcome{}, adjustedConfig{}, err
	}
	defer d.Close()
	if err := d.Lock(); err != nil {
		return Outcome{}, adjustedConfig{}, inputError("open bundle", err)
	}
	raw, err := readConfig(d)
	if err != nil {
		return Outcome{}, adjustedConfig{}, err
	}
	opts.Policy = env.Config.Policy
	opts.Sources = &hostpath.Resolver{Base: bundle}
	opts.Hooks = Hooks(env.Self, env.Config, stages...)
	opts.Indent = true
	res, err := spec.Adjust(raw, opts)
	out := Outcome{Changes: res.Changes, Notes: res.Notes}
	out.granted(res.Request)
	result := adjustedConfig{bundle: bundle, raw: res.Output, req: res.Request}
	if err != nil || !res.Changed {
		return out, result, err
	}
	if kind == engineBundle {
		return out, result, d.WriteStateFile("config.json", res.Output, 0o644)
	}
	return out, result, d.WriteFile("config.json", res.Output, 0o644)
}

// Hooks returns crhook's own entries for stages. The
// runtime kills a hook after Timeout seconds; crhook gives up on its own
// a little earlier, with a message. A config other than the default is
// named in the arguments, never the env: the arguments are what makes an
// entry crhook's own, and a hook stage reads no config from its env.
func Hooks(self string, cfg config.Config, stages ...string) map[string]specs.Hook {
	timeout := HookTimeout(cfg)
	hooks := map[string]specs.Hook{}
	for _, stage := range stages {
		hooks[stage] = specs.Hook{Path: self, Args: HookArgs("crhook", stage, cfg.Path), Timeout: &timeout}
	}
	return hooks
}

// HookArgs are the arguments of a hook entry that runs stage under the
// admin config at configPath ("" or the default path name none).
func HookArgs(argv0, stage, configPath string) []string {
	if configPath == "" || configPath == config.DefaultPath {
		return []string{argv0, stage}
	}
	return []string{argv0, stage, "--config", configPath}
}

// HookTimeout is the timeout, in seconds, for hook entries crhook writes:
// its own deadline plus a margin, so crhook's message comes first.
func HookTimeout(cfg config.Config) int {
	return int(math.Ceil(cfg.Timeout.Seconds())) + 5
}
