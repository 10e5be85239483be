package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcSysRule(t *testing.T) {
	procMount := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}
	roBind := specs.Mount{Destination: "/proc/sys", Type: "bind", Source: "/proc/sys", Options: []string{"bind", "ro"}}
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
		{name: "ro on an rbind at /proc/sys is not read-only through", mounts: []specs.Mount{{Destination: "/proc/sys", Source: "/srv/sys", Options: []string{"rbind", "ro"}}}},
		{name: "recursive read-only", mounts: []specs.Mount{{Destination: "/proc/sys", Options: []string{"rro"}}}, want: `read-only mount at "/proc/sys"`},
		{name: "a later /proc mount hides the read-only one", mounts: []specs.Mount{roBind, procMount}},
		{name: "readonlyPaths win over a later rw mount", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{roBind, procMount}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "a read-write mount at /proc/sys undoes readonlyPaths", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/proc/sys", Source: "/srv/sys", Options: []string{"bind"}}}},
		{name: "relative destination counts as from /", mounts: []specs.Mount{{Destination: "proc/sys", Type: "proc", Options: []string{"ro"}}}, want: `read-only mount at "proc/sys"`},
		{name: "a read-only second procfs is fine", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/mnt/proc", Type: "proc", Options: []string{"ro"}}}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "a read-only plain bind below is fine", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/proc/sys/kernel", Source: "/srv/k", Options: []string{"bind", "ro"}}}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "a recursively read-only host /proc is fine", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/hostproc", Source: "/proc", Type: "bind", Options: []string{"rbind", "rro"}}}, want: `linux.readonlyPaths "/proc/sys"`},
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

// TestProcSysUndone: mounts that leave some /proc/sys writable whatever
// else the spec says. runc's readonlyPaths remount is not recursive
// (libcontainer/rootfs_linux.go readonlyPath), so a mount below it keeps
// its own mode; a second procfs or a bind of the host's has its own sys.
func TestProcSysUndone(t *testing.T) {
	procMount := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}
	tests := []struct {
		name   string
		mounts []specs.Mount
		want   string
	}{
		{name: "read-write bind at ns_last_pid", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/kernel/ns_last_pid", Source: "/srv/x", Type: "bind", Options: []string{"bind", "rw"}}},
			want: `read-write mount at "/proc/sys/kernel/ns_last_pid" (mounts[1])`},
		{name: "second procfs", mounts: []specs.Mount{procMount, {Destination: "/mnt/proc", Type: "proc", Source: "proc"}},
			want: `a second procfs at "/mnt/proc" (mounts[1])`},
		{name: "rbind of the host's /proc", mounts: []specs.Mount{procMount, {Destination: "/hostproc", Source: "/proc", Type: "bind", Options: []string{"rbind", "ro"}}},
			want: `the host's "/proc" bound at "/hostproc" (mounts[1])`},
		{name: "host /proc/sys/kernel through a path with dots", mounts: []specs.Mount{procMount, {Destination: "/k", Source: "/srv/../proc/sys/kernel", Options: []string{"bind"}}},
			want: `the host's "/srv/../proc/sys/kernel"`},
		{name: "read-only bind at /proc/sys, read-write bind below", mounts: []specs.Mount{procMount,
			{Destination: "/proc/sys", Source: "/proc/sys", Type: "bind", Options: []string{"bind", "ro"}},
			{Destination: "/proc/sys/kernel", Source: "/srv/k", Type: "bind", Options: []string{"bind"}}},
			want: `read-write mount at "/proc/sys/kernel" (mounts[2])`},
		{name: "relative destination below", mounts: []specs.Mount{procMount, {Destination: "proc/sys/kernel", Source: "/srv/k", Type: "bind", Options: []string{"bind"}}},
			want: `read-write mount at "proc/sys/kernel" (mounts[1])`},
		{name: "ro on rbind is not recursive", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/fs", Source: "/srv/fs", Type: "bind", Options: []string{"rbind", "ro"}}},
			want: `read-write mount at "/proc/sys/fs"`},
		{name: "writable tmpfs below", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/fs", Source: "tmpfs", Type: "tmpfs"}},
			want: `read-write mount at "/proc/sys/fs"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Mounts: tt.mounts, Linux: &specs.Linux{ReadonlyPaths: []string{"/proc/sys"}}}
			if got := ProcSysRule(s); got != "" {
				t.Errorf("ProcSysRule = %q, want none: a mount undoes it", got)
			}
			err := procSysRefusal(s, "crhook refuses")
			if !errors.Is(err, ErrProcSysWritable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("refusal %q does not name %q", err, tt.want)
			}
		})
	}
}
