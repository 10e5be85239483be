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
	d, err := checkObject(raw, nil)
	if err != nil {
		return res, err
	}
	r := reader{d: d}
	var p specs.Process
	if u := r.object(r.at(0, "user"), "user"); u >= 0 {
		p.User.UID = r.uint32(r.at(u, "uid"), "user.uid")
	}
	if c := r.object(r.at(0, "capabilities"), "capabilities"); c >= 0 {
		p.Capabilities = r.capabilities(c)
	}
	if r.err != nil {
		return res, errkind.BadInput(fmt.Errorf("parse process: %w", r.err))
	}
	gaps := MissingCapabilities(p.Capabilities, p.User.UID, req.Profile.Capabilities())
	if len(gaps) == 0 {
		return res, nil
	}
	ed := newEdits(d)
	if err := addCapabilities(d, ed, 0, gaps); err != nil {
		return res, errkind.BadInput(fmt.Errorf("process: %w", err))
	}
	out, err := ed.apply()
	if err != nil {
		return res, errkind.BadInput(fmt.Errorf("process: %w", err))
	}
	res.Output, res.Changed = out, true
	res.Changes = []string{"exec: added " + describeAdded(gaps)}
	return res, nil
}
