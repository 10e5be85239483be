package hook

import (
	"fmt"
	"path/filepath"

	"github.com/crhook/crhook/internal/atomicfile"
	"github.com/crhook/crhook/spec"
)

// AdjustExec grants an opted-in container's profile to a process an
// engine execs into it (runc exec --process FILE), before the runtime
// reads the file. Engines build that process from their own record of
// the container, so without this a docker exec or kubectl exec would
// hold none of it. The container's request comes from its bundle's
// config.json, which create already adjusted. Processes of other
// containers pass untouched.
func AdjustExec(env Env, process, bundle string) (Outcome, error) {
	raw, err := readBundleConfig(bundle)
	if err != nil {
		return Outcome{}, err
	}
	req, err := spec.RequestOf(raw, env.Config.Policy)
	var out Outcome
	out.granted(req)
	if err != nil || !req.OptedIn {
		return out, err
	}
	if !filepath.IsAbs(process) {
		return out, inputError("exec", fmt.Errorf("process file %q is not an absolute path", process))
	}
	d, err := atomicfile.OpenDir(filepath.Dir(process))
	if err != nil {
		return out, inputError("open exec process", err)
	}
	defer d.Close()
	name := filepath.Base(process)
	data, err := d.ReadFile(name, MaxSpecSize)
	if err != nil {
		return out, inputError("read exec process", err)
	}
	res, err := spec.AdjustProcess(data, req)
	out.Changes = res.Changes
	if err != nil || !res.Changed {
		return out, err
	}
	return out, d.WriteFile(name, res.Output, 0o600)
}
