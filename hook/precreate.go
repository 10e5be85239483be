package hook

import (
	"fmt"

	"github.com/crhook/crhook/internal/boundedio"
	"github.com/crhook/crhook/internal/hostpath"
	"github.com/crhook/crhook/spec"
)

// Precreate reads a full spec on stdin and writes the adjusted spec to
// stdout (podman's precreate stage). A spec that did not opt in comes out
// byte for byte. When crhook refuses an opted-in spec it still passes it
// through unchanged and returns the refusal as Outcome.Warning:
// podman hides a precreate hook's stderr, while createRuntime's refusal
// reaches the user.
func Precreate(env Env) (Outcome, error) {
	raw, err := boundedio.ReadAll(env.Stdin, MaxSpecSize)
	if err != nil {
		return Outcome{}, inputError("read spec from stdin", err)
	}
	// podman gives absolute bind sources and no bundle: a relative one
	// cannot be resolved, and is refused.
	res, adjustErr := spec.Adjust(raw, spec.Options{Policy: env.Config.Policy, Sources: &hostpath.Resolver{}})
	if adjustErr != nil && res.Output == nil {
		return Outcome{}, adjustErr
	}
	out := Outcome{Changes: res.Changes, Notes: res.Notes}
	out.granted(res.Request)
	if adjustErr != nil {
		out.Warning = "passed through unchanged; createRuntime will refuse: " + adjustErr.Error()
	}
	if _, err := env.Stdout.Write(res.Output); err != nil {
		return out, fmt.Errorf("write spec to stdout: %w", err)
	}
	return out, nil
}
