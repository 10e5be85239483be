package spec

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestClone3Verdict(t *testing.T) {
	enosys, eperm := uint(errnoENOSYS), uint(errnoEPERM)
	allowClone3 := specs.LinuxSyscall{Names: []string{"clone", "clone3"}, Action: specs.ActAllow}
	tests := []struct {
		name    string
		sc      *specs.LinuxSeccomp
		allowed bool
		why     string
	}{
		{name: "no seccomp", allowed: true, why: "no seccomp"},
		{name: "default allow", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, allowed: true},
		{name: "default log", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActLog}, allowed: true},
		{name: "default errno, no rule", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}, why: "EPERM"},
		{name: "default errno ENOSYS", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &enosys}, why: "ENOSYS"},
		{name: "allow rule", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{allowClone3}}, allowed: true},
		{
			name: "docker's ENOSYS rule",
			sc: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: specs.ActAllow},
				{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			}},
			why: "rule for clone3 returns ENOSYS",
		},
		{
			name: "blocking rule beats an allow rule",
			sc: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				allowClone3, {Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &eperm},
			}},
			why: "EPERM",
		},
		{
			name: "conditional allow cannot be relied on",
			sc: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"clone3"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
			}},
			why: "default action returns EPERM",
		},
		{name: "kill", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: specs.ActKillProcess}}}, why: "SCMP_ACT_KILL_PROCESS"},
		{name: "hostile action is quoted", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: "SCMP_ACT_\x1b[2J\rX"}}}, why: `"SCMP_ACT_\x1b[2J\rX"`},
		{name: "errno 13", sc: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: func() *uint { u := uint(13); return &u }()}}}, why: "errno 13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Clone3Verdict(tt.sc)
			if v.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (%s)", v.Allowed, tt.allowed, v.Why)
			}
			if strings.ContainsFunc(v.Why, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Errorf("why holds a control character: %q", v.Why)
			}
			if !strings.Contains(v.Why, tt.why) {
				t.Errorf("why = %q, want it to mention %q", v.Why, tt.why)
			}
		})
	}
}

func TestClone3VerdictOfRealProfiles(t *testing.T) {
	if v := Clone3Verdict(loadSpec(t, "podman-user1000.json").Linux.Seccomp); !v.Allowed {
		t.Errorf("Debian's podman profile allows clone3, got %s", v.Why)
	}
	if v := Clone3Verdict(withDockerSeccomp(t, runcSpec(t)).Linux.Seccomp); v.Allowed || !strings.Contains(v.Why, "ENOSYS") {
		t.Errorf("Docker's profile returns ENOSYS for clone3 without CAP_SYS_ADMIN, got %+v", v)
	}
	// test/compat holds the verdict to moby/profiles itself, with and
	// without CAP_SYS_ADMIN.
}
