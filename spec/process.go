package spec

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// AdjustProcess grants req's profile to a process an engine execs into an
// opted-in container (runc exec --process FILE: docker exec, kubectl
// exec). The engine builds that process from its own record of the
// container, not from config.json, so the grant crhook made at create is
// not in it; without it the exec'd process would hold nothing. It edits
// the capability sets only, as Adjust does, and keeps every other member.
// A process that already holds the profile comes back unchanged.
func AdjustProcess(raw []byte, req Request) (Result, error) {
	res := Result{Request: req, Output: raw}
	if !req.OptedIn {
		return res, nil
	}
	if err := checkObject(raw); err != nil {
		return res, err
	}
	root, err := decodeObject(raw)
	if err != nil {
		return res, errkind.BadInput(fmt.Errorf("parse process: %w", err))
	}
	var p specs.Process
	if err := decodeMembers(root, map[string]any{"user": &p.User, "capabilities": &p.Capabilities}); err != nil {
		return res, err
	}
	gaps := MissingCapabilities(p.Capabilities, p.User.UID, req.Profile.Capabilities())
	if len(gaps) == 0 {
		return res, nil
	}
	if err := addCapabilities(root, gaps); err != nil {
		return res, errkind.BadInput(fmt.Errorf("process: %w", err))
	}
	res.Output, res.Changed = root.encode(), true
	res.Changes = []string{"exec: added " + describeAdded(gaps)}
	return res, nil
}
