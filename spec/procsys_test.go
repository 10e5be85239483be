package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	procMount = specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}
	roBind    = specs.Mount{Destination: "/proc/sys", Type: "bind", Source: "/proc/sys", Options: []string{"bind", "ro"}}
)

// procSysCase is a spec's readonlyPaths, maskedPaths and mounts, and what
// ProcSysRule must name as covering /proc/sys ("" for nothing).
type procSysCase struct {
	name     string
	readonly []string
	masked   []string
	mounts   []specs.Mount
	want     string
}

func TestProcSysRule(t *testing.T) {
	for _, group := range [][]procSysCase{procSysRuleCases(), readonlyPathsAboveProcCases(), optionOrderCases()} {
		for _, tt := range group {
			t.Run(tt.name, func(t *testing.T) {
				s := &specs.Spec{Mounts: tt.mounts, Linux: &specs.Linux{ReadonlyPaths: tt.readonly, MaskedPaths: tt.masked}}
				if got := ProcSysRule(s, testSources); got != tt.want {
					t.Errorf("ProcSysRule = %q, want %q", got, tt.want)
				}
			})
		}
	}
}

func procSysRuleCases() []procSysCase {
	return []procSysCase{
		{name: "nothing", mounts: []specs.Mount{procMount}},
		{name: "readonlyPaths /proc/sys", readonly: []string{"/proc/bus", "/proc/sys"}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "readonlyPaths with trailing slash", readonly: []string{"/proc/sys/"}, want: `linux.readonlyPaths "/proc/sys/"`},
		{name: "sysrq-trigger is not /proc/sys", readonly: []string{"/proc/sysrq-trigger", "/proc/sy"}},
		{name: "a subdirectory leaves the rest writable", readonly: []string{"/proc/sys/kernel"}},
		{name: "relative path is ignored", readonly: []string{"proc/sys"}},
		{name: "masked", masked: []string{"/proc/sys"}, want: `linux.maskedPaths "/proc/sys"`},
		{name: "masked /proc hides what is mounted below", masked: []string{"/proc"}, mounts: []specs.Mount{procMount, {Destination: "/proc/sys/fs", Type: "tmpfs", Options: []string{"ro"}}}, want: `linux.maskedPaths "/proc"`},
		{name: "masked / hides nothing", masked: []string{"/"}, mounts: []specs.Mount{procMount}},
		{name: "read-only bind mount", mounts: []specs.Mount{procMount, roBind}, want: `read-only mount at "/proc/sys"`},
		{name: "read-only proc mount", mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Options: []string{"nosuid", "ro"}}}, want: `read-only mount at "/proc"`},
		{name: "ro on an rbind at /proc/sys is not read-only through", mounts: []specs.Mount{{Destination: "/proc/sys", Source: "/srv/sys", Options: []string{"rbind", "ro"}}}},
		{name: "a later /proc mount hides the read-only one", mounts: []specs.Mount{roBind, procMount}},
		{name: "readonlyPaths win over a later rw mount", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{roBind, procMount}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "a read-write mount at /proc/sys undoes readonlyPaths", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/proc/sys", Source: "/srv/sys", Options: []string{"bind"}}}},
		{name: "relative destination counts as from /", mounts: []specs.Mount{{Destination: "proc/sys", Type: "proc", Options: []string{"ro"}}}, want: `read-only mount at "proc/sys"`},
		{name: "a read-only second procfs is fine", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/mnt/proc", Type: "proc", Options: []string{"ro"}}}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "a read-only plain bind below is fine", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/proc/sys/kernel", Source: "/srv/k", Options: []string{"bind", "ro"}}}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "a recursively read-only host /proc is fine", readonly: []string{"/proc/sys"}, mounts: []specs.Mount{procMount, {Destination: "/hostproc", Source: "/proc", Type: "bind", Options: []string{"rbind", "rro"}}}, want: `linux.readonlyPaths "/proc/sys"`},
	}
}

// readonlyPathsAboveProcCases: a readonlyPaths entry above /proc/sys is
// remounted read-only without MS_REC (runc rootfs_linux.go readonlyPath,
// crun 1.8.1 do_masked_or_readonly_path), so it covers /proc/sys only
// when no mount lies between them; "/" never does.
func readonlyPathsAboveProcCases() []procSysCase {
	relProc := specs.Mount{Destination: "proc", Type: "proc", Source: "proc"}
	return []procSysCase{
		{name: "readonlyPaths / above the procfs at /proc", readonly: []string{"/"}, mounts: []specs.Mount{procMount}},
		{name: "readonlyPaths / with no procfs", readonly: []string{"/"}},
		{name: "readonlyPaths /proc/.. cleans to /", readonly: []string{"/proc/.."}, mounts: []specs.Mount{procMount}},
		{name: "readonlyPaths // cleans to /", readonly: []string{"//"}, mounts: []specs.Mount{procMount}},
		{name: "readonlyPaths / then /proc/sys", readonly: []string{"/", "/proc/sys"}, mounts: []specs.Mount{procMount}, want: `linux.readonlyPaths "/proc/sys"`},
		{name: "readonlyPaths /proc on the procfs at /proc", readonly: []string{"/proc"}, mounts: []specs.Mount{procMount}, want: `linux.readonlyPaths "/proc"`},
		{name: "readonlyPaths /proc/ on a procfs at relative proc", readonly: []string{"/proc/"}, mounts: []specs.Mount{relProc}, want: `linux.readonlyPaths "/proc/"`},
		{name: "readonlyPaths //proc//sys", readonly: []string{"//proc//sys"}, mounts: []specs.Mount{procMount}, want: `linux.readonlyPaths "//proc//sys"`},
		{name: "readonlyPaths /proc above a read-only tmpfs at /proc/sys", readonly: []string{"/proc"}, mounts: []specs.Mount{procMount, {Destination: "/proc/sys", Type: "tmpfs", Options: []string{"ro"}}},
			want: `read-only mount at "/proc/sys"`},
		{name: "readonlyPaths /proc above a read-only bind of another procfs at /proc/sys", readonly: []string{"/proc"},
			mounts: []specs.Mount{procMount, {Destination: "/proc/sys", Type: "bind", Source: "/srv/sys", Options: []string{"rbind", "ro"}}}},
		{name: "readonlyPaths / and a read-only tmpfs at /proc", readonly: []string{"/"}, mounts: []specs.Mount{{Destination: "/proc", Type: "tmpfs", Options: []string{"ro"}}},
			want: `read-only mount at "/proc"`},
	}
}

// optionOrderCases: ro/rw and rro/rrw as every runtime takes them. runc
// takes the last of each pair (runc 1.5 also of rro/rrw) and applies
// rro/rrw to binds only; crun ORs ro in. crhook keeps the weakest.
func optionOrderCases() []procSysCase {
	bindAt := func(opts ...string) []specs.Mount {
		return []specs.Mount{procMount, {Destination: "/proc/sys", Type: "bind", Source: "/srv/sys", Options: append([]string{"rbind"}, opts...)}}
	}
	return []procSysCase{
		{name: "rro then rrw: runc 1.5 takes rrw", mounts: bindAt("rro", "rrw")},
		{name: "rrw then rro", mounts: bindAt("rrw", "rro"), want: `read-only mount at "/proc/sys"`},
		{name: "ro then rrw: the recursive clear comes after", mounts: bindAt("ro", "rrw")},
		{name: "rro then rw", mounts: bindAt("rro", "rw"), want: `read-only mount at "/proc/sys"`},
		{name: "ro then rw on a plain bind: runc takes rw", mounts: []specs.Mount{procMount, {Destination: "/proc/sys", Source: "/srv/sys", Options: []string{"bind", "ro", "rw"}}}},
		{name: "rw then ro on a plain bind", mounts: []specs.Mount{procMount, {Destination: "/proc/sys", Source: "/srv/sys", Options: []string{"bind", "rw", "ro"}}}, want: `read-only mount at "/proc/sys"`},
		{name: "rro on a filesystem that is no bind: runc ignores it", mounts: []specs.Mount{{Destination: "/proc/sys", Type: "tmpfs", Options: []string{"rro"}}}},
		{name: "rro and ro on a filesystem", mounts: []specs.Mount{{Destination: "/proc/sys", Type: "tmpfs", Options: []string{"rro", "ro"}}}, want: `read-only mount at "/proc/sys"`},
		{name: "ro then rrw on a filesystem", mounts: []specs.Mount{{Destination: "/proc/sys", Type: "tmpfs", Options: []string{"ro", "rrw"}}}},
	}
}

func TestProcSysRuleOfRealSpecs(t *testing.T) {
	for _, name := range []string{"runc-spec.json", "podman-user1000.json"} {
		if ProcSysRule(loadSpec(t, name), testSources) == "" {
			t.Errorf("%s: /proc/sys should be read-only", name)
		}
	}
	if got := ProcSysRule(&specs.Spec{}, testSources); got != "" {
		t.Errorf("empty spec: %q", got)
	}
}

// undoneCase is a spec's mounts, under readonlyPaths /proc/sys, on a host
// with links, and what the refusal must name.
type undoneCase struct {
	name   string
	root   string
	mounts []specs.Mount
	host   fakeSources
	want   string
}

// TestProcSysUndone: mounts that leave some /proc/sys writable whatever
// else the spec says. runc's readonlyPaths remount is not recursive
// (libcontainer/rootfs_linux.go readonlyPath), so a mount below it keeps
// its own mode; a second procfs or a bind that reaches a procfs has its
// own sys.
func TestProcSysUndone(t *testing.T) {
	for _, group := range [][]undoneCase{undoneMountCases(), undoneSourceCases(), undoneOptionCases()} {
		for _, tt := range group {
			t.Run(tt.name, func(t *testing.T) {
				s := &specs.Spec{Mounts: tt.mounts, Linux: &specs.Linux{ReadonlyPaths: []string{"/proc/sys"}}}
				if tt.root != "" {
					s.Root = &specs.Root{Path: tt.root}
				}
				if got := ProcSysRule(s, tt.host); got != "" {
					t.Errorf("ProcSysRule = %q, want none: a mount undoes it", got)
				}
				err := procSysRefusal(s, tt.host, "crhook refuses")
				if !errors.Is(err, ErrProcSysWritable) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("refusal %q does not name %q", err, tt.want)
				}
			})
		}
	}
}

func undoneMountCases() []undoneCase {
	return []undoneCase{
		{name: "read-write bind at ns_last_pid", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/kernel/ns_last_pid", Source: "/srv/x", Type: "bind", Options: []string{"bind", "rw"}}},
			want: `read-write mount at "/proc/sys/kernel/ns_last_pid" (mounts[1])`},
		{name: "second procfs", mounts: []specs.Mount{procMount, {Destination: "/mnt/proc", Type: "proc", Source: "proc"}},
			want: `a second procfs at "/mnt/proc" (mounts[1])`},
		{name: "read-only bind at /proc/sys, read-write bind below", mounts: []specs.Mount{procMount,
			{Destination: "/proc/sys", Source: "/srv/sys", Type: "bind", Options: []string{"bind", "ro"}},
			{Destination: "/proc/sys/kernel", Source: "/srv/k", Type: "bind", Options: []string{"bind"}}},
			want: `read-write mount at "/proc/sys/kernel" (mounts[2])`},
		{name: "relative destination below", mounts: []specs.Mount{procMount, {Destination: "proc/sys/kernel", Source: "/srv/k", Type: "bind", Options: []string{"bind"}}},
			want: `read-write mount at "proc/sys/kernel" (mounts[1])`},
		{name: "ro on rbind is not recursive", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/fs", Source: "/srv/fs", Type: "bind", Options: []string{"rbind", "ro"}}},
			want: `read-write mount at "/proc/sys/fs"`},
		{name: "writable tmpfs below", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/fs", Source: "tmpfs", Type: "tmpfs"}},
			want: `read-write mount at "/proc/sys/fs"`},
	}
}

// undoneSourceCases: a bind reaches a procfs by what its source is on the
// host, resolved as the runtime will, not by how it is spelled.
func undoneSourceCases() []undoneCase {
	bind := func(src string, opts ...string) []specs.Mount {
		return []specs.Mount{procMount, {Destination: "/hostproc", Source: src, Type: "bind", Options: append([]string{"rbind"}, opts...)}}
	}
	devFD := fakeSources{links: map[string]string{"/dev/fd": "/proc/self/fd", "/proc/self": "/proc/4242"}}
	return []undoneCase{
		{name: "rbind of the host's /proc", mounts: bind("/proc", "ro"), want: `has source "/proc", which resolves to "/proc" on a procfs`},
		{name: "host /proc/sys/kernel through a path with dots", mounts: []specs.Mount{procMount, {Destination: "/k", Source: "/srv/../proc/sys/kernel", Options: []string{"bind"}}},
			want: `resolves to "/proc/sys/kernel" on a procfs`},
		{name: "a host link to /proc", host: fakeSources{links: map[string]string{"/srv/not-proc": "/proc"}}, mounts: bind("/srv/not-proc"),
			want: `has source "/srv/not-proc", which resolves to "/proc" on a procfs`},
		{name: "through /dev/fd, which cleans to / as text", host: devFD, mounts: bind("/dev/fd/../.."), want: `resolves to "/proc" on a procfs`},
		{name: "rbind of / takes the host's procfs along", mounts: bind("/"), want: `the rbind at "/hostproc" (mounts[1]) has source "/", which takes along the procfs at "/proc"`},
		{name: "rbind of / read-only on top only", mounts: bind("/", "ro"), want: `takes along the procfs at "/proc"`},
		{name: "a source that does not exist", host: fakeSources{missing: []string{"/srv/gone"}}, mounts: bind("/srv/gone"),
			want: `has source "/srv/gone", which cannot be resolved on the host`},
		{name: "a relative source with no bundle", mounts: bind("srv/x"), want: `has source "srv/x", which cannot be resolved on the host`},
		{name: "a source in the root, under the procfs the runtime mounts first", root: "/bundle/rootfs",
			mounts: []specs.Mount{procMount, {Destination: "/hostproc", Source: "/bundle/rootfs/proc", Type: "bind", Options: []string{"rbind"}}},
			want:   `has source "/bundle/rootfs/proc" in the container's root, where the runtime has mounted "/proc" (mounts[0])`},
		{name: "an rbind of the root, which holds the procfs by then", root: "/bundle/rootfs",
			mounts: []specs.Mount{procMount, {Destination: "/mnt/root", Source: "/bundle/rootfs", Type: "bind", Options: []string{"rbind"}}},
			want:   `where the runtime has mounted "/proc" (mounts[0])`},
	}
}

// undoneOptionCases: a bind that reaches a procfs is fine only read-only
// through, as every runtime reads the options.
func undoneOptionCases() []undoneCase {
	bind := func(opts ...string) []specs.Mount {
		return []specs.Mount{procMount, {Destination: "/hostproc", Source: "/proc", Type: "bind", Options: opts}}
	}
	return []undoneCase{
		{name: "rro then rrw", mounts: bind("rbind", "rro", "rrw"), want: `resolves to "/proc" on a procfs`},
		{name: "ro then rrw", mounts: bind("bind", "ro", "rrw"), want: `resolves to "/proc" on a procfs`},
		{name: "ro then rw", mounts: bind("bind", "ro", "rw"), want: `resolves to "/proc" on a procfs`},
		{name: "a second procfs with rro, which runc ignores on a filesystem", mounts: []specs.Mount{procMount, {Destination: "/mnt/proc", Type: "proc", Source: "proc", Options: []string{"rro"}}},
			want: `a second procfs at "/mnt/proc"`},
		{name: "a second procfs, ro then rrw", mounts: []specs.Mount{procMount, {Destination: "/mnt/proc", Type: "proc", Source: "proc", Options: []string{"ro", "rrw"}}},
			want: `a second procfs at "/mnt/proc"`},
		{name: "the host's ns_last_pid bound, rro then rrw", mounts: []specs.Mount{procMount, {Destination: "/proc/sys/kernel/ns_last_pid", Source: "/proc/sys/kernel/ns_last_pid", Type: "bind", Options: []string{"bind", "rro", "rrw"}}},
			want: `read-write mount at "/proc/sys/kernel/ns_last_pid"`},
	}
}

// TestProcSysSourcesThatPass: binds that reach no procfs, or reach one
// read-only through, are no reason to refuse.
func TestProcSysSourcesThatPass(t *testing.T) {
	tests := []struct {
		name  string
		mount specs.Mount
		root  string
	}{
		{name: "a plain directory", mount: specs.Mount{Destination: "/data", Source: "/srv/data", Type: "bind", Options: []string{"rbind"}}},
		{name: "/ without rbind brings no mount along", mount: specs.Mount{Destination: "/host", Source: "/", Type: "bind", Options: []string{"bind"}}},
		{name: "the host's /proc recursively read-only", mount: specs.Mount{Destination: "/hostproc", Source: "/proc", Type: "bind", Options: []string{"rbind", "rro"}}},
		{name: "the host's /proc/cpuinfo read-only", mount: specs.Mount{Destination: "/cpuinfo", Source: "/proc/cpuinfo", Type: "bind", Options: []string{"bind", "ro"}}},
		{name: "a file in the root beside the runtime's mounts", root: "/bundle/rootfs", mount: specs.Mount{Destination: "/etc/x", Source: "/bundle/rootfs/etc/y", Type: "bind", Options: []string{"bind"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Mounts: []specs.Mount{procMount, tt.mount}, Linux: &specs.Linux{ReadonlyPaths: []string{"/proc/sys"}}}
			if tt.root != "" {
				s.Root = &specs.Root{Path: tt.root}
			}
			if got := ProcSysRule(s, testSources); got != `linux.readonlyPaths "/proc/sys"` {
				t.Errorf("ProcSysRule = %q: %v", got, procSysRefusal(s, testSources, "refused"))
			}
		})
	}
}

// TestProcSysRefusalExplainsAnEntryAbove: the refusal says why a
// readonlyPaths entry above /proc/sys does not count.
func TestProcSysRefusalExplainsAnEntryAbove(t *testing.T) {
	tests := []struct {
		readonly []string
		want     string
	}{
		{readonly: []string{"/"}, want: `linux.readonlyPaths "/" turns read-only without the mount at "/proc" below it`},
		{readonly: []string{"/proc/.."}, want: `linux.readonlyPaths "/proc/.." turns read-only without the mount at "/proc" below it`},
	}
	for _, tt := range tests {
		s := &specs.Spec{Mounts: []specs.Mount{procMount}, Linux: &specs.Linux{ReadonlyPaths: tt.readonly}}
		if err := procSysRefusal(s, testSources, "refused"); !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.readonly, err, tt.want)
		}
	}
}

// countingSources counts the queries for each path.
type countingSources struct {
	fakeSources
	asked map[string]int
}

func (c *countingSources) Source(p string, recursive bool) (BindSource, error) {
	c.asked[p]++
	return c.fakeSources.Source(p, recursive)
}

// TestProcSysUndoneAsksEachSourceOnce: every bind needs the host's
// answer, and the container's root, which each bind is held against,
// is asked for once, not once a bind: a spec may have thousands.
func TestProcSysUndoneAsksEachSourceOnce(t *testing.T) {
	s := &specs.Spec{Root: &specs.Root{Path: "/bundle/rootfs"}, Linux: &specs.Linux{ReadonlyPaths: []string{"/proc/sys"}}}
	for i := range 100 {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: fmt.Sprintf("/data/%d", i), Type: "bind", Source: fmt.Sprintf("/srv/%d", i), Options: []string{"rbind"}})
	}
	src := &countingSources{asked: map[string]int{}}
	if p := procSysUndone(s, src); p.what != "" {
		t.Fatalf("refused: %s", p.what)
	}
	if len(src.asked) != 101 {
		t.Errorf("asked for %d paths, want the 100 sources and the root", len(src.asked))
	}
	for p, n := range src.asked {
		if n != 1 {
			t.Errorf("asked for %s %d times", p, n)
		}
	}
}
