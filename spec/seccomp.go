package spec

import (
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
	if sc == nil {
		return SeccompVerdict{Allowed: true, Why: "no seccomp profile"}
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
