package spec

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrSharedPID marks a container that does not own a new PID namespace.
var ErrSharedPID = errors.New("the container shares a PID namespace")

// capSysPtrace is the one capability of a profile that reaches other
// processes: with it, a process can attach to any process its PID
// namespace shows, whoever owns it.
const capSysPtrace = "CAP_SYS_PTRACE"

// sharedPIDNamespace says how the container's PID namespace is not its
// own, or "" when it gets a new one. runc creates a PID namespace only
// for a "pid" entry without a path (configs CloneFlags); with a path it
// joins that namespace (nsexec join_namespaces), and with no entry the
// container stays in the runtime's, the host's. In either of those,
// CAP_CHECKPOINT_RESTORE would let it place processes at chosen PIDs of
// processes that are not its own, and open their map_files.
func sharedPIDNamespace(s *specs.Spec) string {
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.PIDNamespace {
				continue
			}
			if ns.Path != "" {
				return "joins the PID namespace at " + quote(ns.Path)
			}
			return ""
		}
	}
	return "has no pid entry in linux.namespaces, so it shares the runtime's (the host's) PID namespace"
}

// sharedPIDNote is what the log says of a grant the admin's
// allow_shared_pid_namespace let through: how is how the container's PID
// namespace is not its own.
func sharedPIDNote(how string) string {
	return "granted although the container " + how + " (admin policy allow_shared_pid_namespace = true)"
}

// checkSharedPID decides a container whose PID namespace is not its own
// new one (how says how; "" when it is). The admin's
// allow_shared_pid_namespace lets the capabilities of minimal and
// restore through, with a note for the log. CAP_SYS_PTRACE never: in a
// PID namespace it shares, a process holding it can attach to any
// process there, root's on the host included, so the checkpoint profile
// is refused whatever the admin config says.
func checkSharedPID(how string, req Request) (note string, err error) {
	switch {
	case how == "":
		return "", nil
	case slices.Contains(req.Profile.Capabilities(), capSysPtrace):
		return "", fmt.Errorf("%w: it %s, and profile %q grants %s, which crhook never grants in a PID namespace that is not the container's own new one, "+
			"whatever allow_shared_pid_namespace says (it could attach to every process there); give the container its own PID namespace, or use profile %q",
			ErrSharedPID, how, req.Profile, capSysPtrace, ProfileRestore)
	case !req.SharedPIDAllowed:
		return "", sharedPIDRefusal(how)
	}
	return sharedPIDNote(how), nil
}

// Overrides lists, for the log, each admin exception the spec's grant
// relies on; nil when it relies on none.
func Overrides(s *specs.Spec, req Request) []string {
	var notes []string
	if note, err := checkSharedPID(sharedPIDNamespace(s), req); err == nil && note != "" {
		notes = append(notes, note)
	}
	if checkpointFiltered(s, req) && req.CheckpointSeccomp == CheckpointSeccompKeep {
		notes = append(notes, seccompKeptNote)
	}
	return notes
}

func sharedPIDRefusal(how string) error {
	return fmt.Errorf("%w: it %s; crhook grants only to a container with its own new PID namespace "+
		"(drop --pid=host, --pid=container:..., hostPID or shareProcessNamespace), or the admin can set allow_shared_pid_namespace = true",
		ErrSharedPID, how)
}
