package hook

import (
	"fmt"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/hostpath"
	"github.com/crhook/crhook/spec"
)

// CreateRuntime checks an opted-in container's config before it starts:
// the caps are in the sets they must be in, /proc/sys is read-only,
// seccomp lets clone3 through and the kernel knows the capability. The
// runtime read config.json already, so this stage can only refuse, never
// fix. Containers that did not opt in return at once.
func CreateRuntime(env Env) (Outcome, error) {
	st, out, proceed, err := readCheckState(env)
	if err != nil || !proceed {
		return out, err
	}
	raw, err := readBundleConfig(st.Bundle)
	if err != nil {
		return out, err
	}
	s, err := spec.Parse(raw)
	if err != nil {
		return out, err
	}
	req, err := spec.ResolveRequest(s.Annotations, env.Config.Policy)
	if err != nil || !req.OptedIn {
		return out, err
	}
	out.granted(req)
	out.Notes = spec.Overrides(s, req)
	return out, checkConfig(s, req, st.Bundle)
}

// checkConfig is createRuntime's check of an opted-in config, whose bind
// sources resolve from bundle.
func checkConfig(s *specs.Spec, req spec.Request, bundle string) error {
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("read the kernel's last capability: %w", err)
	}
	return spec.Verify(s, req, spec.Host{CapLastCap: int(last), Sources: &hostpath.Resolver{Base: bundle}})
}
