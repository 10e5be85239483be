package spec

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcSysRule(t *testing.T) {
	procMount := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}
	roBind := specs.Mount{Destination: "/proc/sys", Type: "bind", Source: "/proc/sys", Options: []string{"rbind", "ro"}}
	tests := []struct {
		name     string
		readonly []string
		masked   []string
		mounts   []specs.Mount
		want     string
	}{
		{name: "nothing", mounts: []specs.Mount{procMount}},
		{name: "readonlyPaths /proc/sys", readonly: []string{"/proc/bus", "/proc/sys"}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "readonlyPaths with trailing slash", readonly: []string{"/proc/sys/"}, want: `linux.readonlyPaths "/proc/sys/"`},
		{name: "readonlyPaths /proc covers it", readonly: []string{"/proc"}, want: `linux.readonlyPaths "/proc"`},
		{name: "sysrq-trigger is not /proc/sys", readonly: []string{"/proc/sysrq-trigger", "/proc/sy"}},
		{name: "a subdirectory leaves the rest writable", readonly: []string{"/proc/sys/kernel"}},
		{name: "relative path is ignored", readonly: []string{"proc/sys"}},
		{name: "masked", masked: []string{"/proc/sys"}, want: `linux.maskedPaths "/proc/sys"`},
		{name: "read-only bind mount", mounts: []specs.Mount{procMount, roBind}, want: `read-only mount at "/proc/sys"`},
		{name: "read-only proc mount", mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Options: []string{"nosuid", "ro"}}}, want: `read-only mount at "/proc"`},
		{name: "rw after ro wins", mounts: []specs.Mount{{Destination: "/proc/sys", Options: []string{"ro", "rw"}}}},
		{name: "recursive read-only", mounts: []specs.Mount{{Destination: "/proc/sys", Options: []string{"rro"}}}, want: `read-only mount at "/proc/sys"`},
		{name: "a later /proc mount hides the read-only one", mounts: []specs.Mount{roBind, procMount}},
		{name: "readonlyPaths win over a later rw mount", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{roBind, procMount}, want: `linux.readonlyPaths "/proc/sys"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Mounts: tt.mounts, Linux: &specs.Linux{ReadonlyPaths: tt.readonly, MaskedPaths: tt.masked}}
			if got := ProcSysRule(s); got != tt.want {
				t.Errorf("ProcSysRule = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProcSysRuleOfRealSpecs(t *testing.T) {
	for _, name := range []string{"runc-spec.json", "podman-user1000.json"} {
		if ProcSysRule(loadSpec(t, name)) == "" {
			t.Errorf("%s: /proc/sys should be read-only", name)
		}
	}
	if got := ProcSysRule(&specs.Spec{}); got != "" {
		t.Errorf("empty spec: %q", got)
	}
}
