package hook

import (
	"errors"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/atomicfile"
	"github.com/crhook/crhook/internal/boundedio"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

// maxIDLength bounds a container id, which crhook repeats in every
// message: runtimes use ids of 64 characters or so.
const maxIDLength = 1024

// readState reads and validates the container state a runtime passes a
// hook on stdin.
func readState(env Env) (*specs.State, error) {
	raw, err := boundedio.ReadAll(env.Stdin, MaxStateSize)
	if err != nil {
		return nil, inputError("read state from stdin", err)
	}
	st, err := spec.ParseState(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case st.ID == "":
		return nil, errkind.BadInput(errors.New("state has no id"))
	case len(st.ID) > maxIDLength:
		return nil, errkind.BadInput(fmt.Errorf("state id is %d bytes long; a container id is at most %d", len(st.ID), maxIDLength))
	case st.Pid < 0:
		return nil, errkind.BadInput(fmt.Errorf("state of container %s has pid %d", st.ID, st.Pid))
	}
	return st, nil
}

// readBundleConfig reads BUNDLE/config.json. The bundle must be an
// absolute path: a hook's working directory is the runtime's choice.
func readBundleConfig(bundle string) ([]byte, error) {
	if bundle == "" {
		return nil, errkind.BadInput(errors.New("no bundle given"))
	}
	if !filepath.IsAbs(bundle) {
		return nil, errkind.BadInput(fmt.Errorf("bundle %q is not an absolute path", bundle))
	}
	d, err := openBundle(bundle)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return readConfig(d)
}

// openBundle opens the bundle directory every access goes through.
func openBundle(bundle string) (*atomicfile.Dir, error) {
	d, err := atomicfile.OpenDir(bundle)
	if err != nil {
		return nil, inputError("open bundle", err)
	}
	return d, nil
}

// readConfig reads config.json beneath the bundle d: a config.json that
// leads outside it (a link to another directory) is refused, because
// crhook would decide on, or write, a file that is not the bundle's.
func readConfig(d *atomicfile.Dir) ([]byte, error) {
	raw, err := d.ReadFile("config.json", MaxSpecSize)
	if errors.Is(err, atomicfile.ErrOutside) {
		return nil, errkind.BadInput(fmt.Errorf("read bundle config: %s/config.json leads outside the bundle; make it a file in the bundle", d.Path()))
	}
	if err != nil {
		return nil, inputError("read bundle config", err)
	}
	return raw, nil
}

// inputError marks failures to read input as bad input: a missing,
// looping, oversized or non-regular file is the caller's to fix.
func inputError(what string, err error) error {
	return errkind.BadInput(fmt.Errorf("%s: %w", what, err))
}

// readCheckState reads the state for a check stage. proceed is false for
// a container that did not opt in: the stage returns at once.
func readCheckState(env Env) (st *specs.State, out Outcome, proceed bool, err error) {
	st, err = readState(env)
	if err != nil {
		return nil, Outcome{}, false, err
	}
	out = Outcome{Container: st.ID}
	return st, out, spec.OptedIn(st.Annotations), nil
}
