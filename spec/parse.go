package spec

import (
	"bytes"
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// Parse decodes a config.json strictly enough to act on it: it must be one
// JSON object with no repeated member, and the members crhook decides on
// must have the right types and the runtime spec's spelling. Unknown
// members are allowed; Adjust keeps them. The returned spec holds only
// those members (see decideOn); the rest is the runtime's to check.
func Parse(raw []byte) (*specs.Spec, error) {
	_, s, err := parseSpec(raw)
	return s, err
}

// parseSpec returns raw as a lossless object for editing and as the typed
// view crhook decides on.
func parseSpec(raw []byte) (object, *specs.Spec, error) {
	if err := checkObject(raw); err != nil {
		return nil, nil, err
	}
	root, err := decodeObject(raw)
	if err != nil {
		return nil, nil, errkind.BadInput(fmt.Errorf("parse spec: %w", err))
	}
	s, err := decideOn(root)
	if err != nil {
		return nil, nil, err
	}
	return root, s, nil
}

// decideOn decodes the members crhook's decisions read: the process (user
// and capabilities), mounts, annotations, and from linux the read-only
// and masked paths, seccomp and namespaces. Decoding only those keeps a hook's cold
// start short: encoding/json builds its decoders per type on first use,
// and the resources, devices and the rest of a spec are not crhook's.
func decideOn(root object) (*specs.Spec, error) {
	s := &specs.Spec{}
	if err := decodeMembers(root, map[string]any{
		"ociVersion": &s.Version, "process": &s.Process, "mounts": &s.Mounts, "annotations": &s.Annotations,
	}); err != nil {
		return nil, err
	}
	raw, ok, err := root.get("linux")
	if err != nil || !ok {
		return s, err
	}
	linux, err := decodeObject(raw)
	if err != nil {
		return nil, errkind.BadInput(fmt.Errorf("parse spec: linux: %w", err))
	}
	s.Linux = &specs.Linux{}
	return s, decodeMembers(linux, map[string]any{
		"readonlyPaths": &s.Linux.ReadonlyPaths, "maskedPaths": &s.Linux.MaskedPaths, "seccomp": &s.Linux.Seccomp,
		"namespaces": &s.Linux.Namespaces,
	})
}

// decodeMembers decodes each named member of o that is present into its
// destination, refusing a name spelled in another letter case.
func decodeMembers(o object, into map[string]any) error {
	for key, dst := range into {
		if _, err := o.decode(key, dst); err != nil {
			return errkind.BadInput(fmt.Errorf("parse spec: %w", err))
		}
	}
	return nil
}

// ParseState decodes the state a runtime passes to a hook on stdin.
func ParseState(raw []byte) (*specs.State, error) {
	if err := checkObject(raw); err != nil {
		return nil, err
	}
	var st specs.State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, errkind.BadInput(fmt.Errorf("parse state: %w", err))
	}
	return &st, nil
}

func checkObject(raw []byte) error {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return errkind.BadInput(fmt.Errorf("parse: input is empty"))
	}
	if trimmed[0] != '{' {
		return errkind.BadInput(fmt.Errorf("parse: input is not a JSON object"))
	}
	if err := checkDuplicateKeys(raw); err != nil {
		return errkind.BadInput(fmt.Errorf("parse: %w", err))
	}
	return nil
}
