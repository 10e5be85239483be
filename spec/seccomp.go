package spec

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Clone3 is the syscall restore needs: only clone3 takes set_tid.
const Clone3 = "clone3"

// SeccompVerdict says what a seccomp profile does to clone3.
type SeccompVerdict struct {
	Allowed bool
	// Why is a short human reason, e.g. "rule returns ENOSYS".
	Why string
}

const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

// Clone3Verdict works out what sc does to a clone3 call whose arguments
// crhook cannot know. A nil profile allows everything. A rule that filters
// on arguments cannot be relied on (clone3 passes a pointer), so only
// unconditional rules count as allowing; any rule naming clone3 with a
// blocking action counts as blocking.
func Clone3Verdict(sc *specs.LinuxSeccomp) SeccompVerdict {
	if !InstallsFilter(sc) {
		return SeccompVerdict{Allowed: true, Why: "no seccomp filter"}
	}
	allowedByRule := false
	for _, rule := range sc.Syscalls {
		if !slices.Contains(rule.Names, Clone3) {
			continue
		}
		if !actionAllows(rule.Action) {
			return SeccompVerdict{Why: "a rule for clone3 " + describeAction(rule.Action, rule.ErrnoRet, errnoEPERM)}
		}
		if len(rule.Args) == 0 {
			allowedByRule = true
		}
	}
	if allowedByRule {
		return SeccompVerdict{Allowed: true, Why: "a rule allows clone3"}
	}
	if actionAllows(sc.DefaultAction) {
		return SeccompVerdict{Allowed: true, Why: "the default action allows it"}
	}
	return SeccompVerdict{Why: "the default action " + describeAction(sc.DefaultAction, sc.DefaultErrnoRet, errnoEPERM)}
}

func actionAllows(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog
}

func describeAction(a specs.LinuxSeccompAction, ret *uint, defaultErrno uint) string {
	if a != specs.ActErrno {
		return "is " + quoteName(string(a))
	}
	errno := defaultErrno
	if ret != nil {
		errno = *ret
	}
	switch errno {
	case errnoENOSYS:
		return "returns ENOSYS"
	case errnoEPERM:
		return "returns EPERM"
	}
	return fmt.Sprintf("returns errno %d", errno)
}

// ErrSeccompDump marks a checkpoint container whose seccomp filter would
// make CRIU's dump fail.
var ErrSeccompDump = errors.New("a seccomp filter stops criu dump")

// InstallsFilter reports whether a runtime installs a seccomp filter for
// sc. runc takes a profile with no default action and no rules as none
// (libcontainer/specconv SetupSeccomp); any other profile is a filter.
func InstallsFilter(sc *specs.LinuxSeccomp) bool {
	return sc != nil && (sc.DefaultAction != "" || len(sc.Syscalls) > 0)
}

// seccompDumpRefusal is the refusal for a checkpoint container with a
// seccomp filter. CRIU suspends each dumped task's filter with
// PTRACE_O_SUSPEND_SECCOMP (compel's ptrace_suspend_seccomp), and the
// kernel allows that only to a tracer holding CAP_SYS_ADMIN that runs
// without a filter itself, which no crhook container is.
func seccompDumpRefusal() error {
	return fmt.Errorf("%w: CRIU must suspend each task's seccomp filter to dump it, which needs CAP_SYS_ADMIN, and the admin's checkpoint_seccomp = %q refuses "+
		"such a checkpoint container; run it without a seccomp profile (--security-opt seccomp=unconfined; Kubernetes: seccompProfile Unconfined) to dump, "+
		"or the admin can set checkpoint_seccomp = %q to restore in it", ErrSeccompDump, CheckpointSeccompRefuse, CheckpointSeccompKeep)
}

// seccompKeptNote is what the log says of a checkpoint container that
// keeps its seccomp filter (checkpoint_seccomp = "keep", the default).
const seccompKeptNote = "the checkpoint container keeps its seccomp filter (admin policy checkpoint_seccomp = keep): " +
	"criu restore works in it, criu dump does not (suspending a filter needs CAP_SYS_ADMIN); dump in a container without one"

// handedOff returns the action of a rule naming clone3, or else of the
// default, that hands the call to a seccomp agent (SCMP_ACT_NOTIFY) or a
// tracer (SCMP_ACT_TRACE). Such a profile means someone else decides
// about clone3, so crhook never edits it.
func handedOff(sc *specs.LinuxSeccomp) (specs.LinuxSeccompAction, bool) {
	for _, rule := range sc.Syscalls {
		if slices.Contains(rule.Names, Clone3) && isHandOff(rule.Action) {
			return rule.Action, true
		}
	}
	if isHandOff(sc.DefaultAction) {
		return sc.DefaultAction, true
	}
	return "", false
}

func isHandOff(a specs.LinuxSeccompAction) bool {
	return a == specs.ActNotify || a == specs.ActTrace
}

func handler(a specs.LinuxSeccompAction) string {
	if a == specs.ActNotify {
		return "a seccomp agent (" + string(specs.ActNotify) + ")"
	}
	return "a tracer (" + string(specs.ActTrace) + ")"
}

// describeSource names where a hand-off comes from.
func describeSource(sc *specs.LinuxSeccomp, a specs.LinuxSeccompAction) string {
	for _, rule := range sc.Syscalls {
		if slices.Contains(rule.Names, Clone3) && rule.Action == a {
			return "a seccomp rule"
		}
	}
	return "the seccomp default action"
}

// quoteName shows a name from the input as it is when it is plain
// (SCMP_ACT_KILL), else quoted, so no byte of it reaches a terminal raw.
func quoteName(s string) string {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == '/' || (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')) {
			return quote(s)
		}
	}
	if len(s) > 64 {
		return quote(s)
	}
	return s
}
