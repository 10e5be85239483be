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
		return fmt.Sprintf("is %s", a)
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
	return fmt.Errorf("%w: profile %q is for dumping, and CRIU must suspend each task's seccomp filter to dump it, which needs CAP_SYS_ADMIN; "+
		"run the container without a seccomp profile (--security-opt seccomp=unconfined; Kubernetes: no seccompProfile), "+
		"or the admin can set checkpoint_seccomp = %q", ErrSeccompDump, ProfileCheckpoint, CheckpointSeccompRemove)
}
