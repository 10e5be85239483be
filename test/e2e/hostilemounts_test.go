package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/spec"
)

// live is what a runtime makes of a hostile spec, read from its
// container's mount table.
type live string

const (
	// writable: the container reaches a procfs with a writable sys.
	writable live = "writable"
	// readOnly: the runtime applied the spec read-only after all; crhook
	// refuses it because another runtime does not.
	readOnly live = "read-only"
	// refusedByRuntime: the runtime does not create the container.
	refusedByRuntime live = "refused"
)

// hostileMount is a spec shape that leaves some /proc/sys writable, what
// crhook's refusal names, and what each runtime (runc for Debian's, runc-
// for the newest, crun) makes of it live.
type hostileMount struct {
	name string
	edit func(s *specs.Spec)
	// refusal is what crhook's one line names.
	refusal string
	live    map[string]live
}

// everyRuntime is the outcome under every runtime.
func everyRuntime(l live) map[string]live {
	return map[string]live{"runc": l, "runc-": l, "crun": l}
}

func addMounts(ms ...specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, ms...) }
}

// hostileMounts are every shape either review found passing crhook as
// read-only, and their variants.
func hostileMounts(t *testing.T) []hostileMount {
	file := filepath.Join(t.TempDir(), "ns_last_pid")
	mustDo(t, os.WriteFile(file, []byte("0\n"), 0o644))
	link := filepath.Join(t.TempDir(), "not-proc")
	mustDo(t, os.Symlink("/proc", link))
	return append(hostileMountsFirstReview(file), hostileMountsSecondReview(link)...)
}

func hostileMountsFirstReview(file string) []hostileMount {
	return []hostileMount{
		{name: "read-write bind at ns_last_pid under readonlyPaths", refusal: `read-write mount at "/proc/sys/kernel/ns_last_pid"`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/proc/sys/kernel/ns_last_pid", Type: "bind", Source: file, Options: []string{"bind", "rw"}})},
		{name: "relative destination", refusal: `read-write mount at "proc/sys/kernel/ns_last_pid"`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "proc/sys/kernel/ns_last_pid", Type: "bind", Source: file, Options: []string{"bind", "rw"}})},
		{name: "second procfs", refusal: `a second procfs at "/mnt/proc"`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/mnt/proc", Type: "proc", Source: "proc"})},
		{name: "rbind of the host's /proc", refusal: `has source "/proc", which resolves to "/proc" on a procfs`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/hostproc", Type: "bind", Source: "/proc", Options: []string{"rbind", "rw"}})},
		{name: "host's /proc/sys/kernel bound read-write below /proc/sys", refusal: `read-write mount at "/proc/sys/kernel"`,
			live: map[string]live{"runc": refusedByRuntime, "runc-": refusedByRuntime, "crun": writable},
			edit: addMounts(specs.Mount{Destination: "/proc/sys/kernel", Type: "bind", Source: "/proc/sys/kernel", Options: []string{"bind", "rw"}})},
	}
}

// hostileMountsSecondReview: a readonlyPaths entry above the procfs
// (item 1), bind sources that reach a procfs through a link or the
// container's own root (item 2), and options read as the runtimes read
// them (item 8).
func hostileMountsSecondReview(link string) []hostileMount {
	onlyRoot := func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/"} }
	return []hostileMount{
		{name: "readonlyPaths / and no /proc/sys", refusal: `linux.readonlyPaths "/" turns read-only without the mount at "/proc" below it`, live: everyRuntime(writable), edit: onlyRoot},
		{name: "readonlyPaths /proc/.. and no /proc/sys", refusal: `linux.readonlyPaths "/proc/.." turns read-only without the mount at "/proc"`, live: everyRuntime(writable),
			edit: func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/proc/.."} }},
		{name: "a bind source through /dev/fd", refusal: `has source "/dev/fd/../..", which resolves to "/proc" on a procfs`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/hostproc", Type: "bind", Source: "/dev/fd/../..", Options: []string{"rbind"}})},
		{name: "a bind source that is a host link to /proc", refusal: `which resolves to "/proc" on a procfs`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/hostproc", Type: "bind", Source: link, Options: []string{"rbind", "rw"}})},
		{name: "an rbind of the host's /", refusal: `has source "/", which takes along the procfs at "/proc"`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/host", Type: "bind", Source: "/", Options: []string{"rbind", "ro"}})},
		// A relative source starts from the bundle, for the runtimes and
		// for crhook alike.
		{name: "a bind of the container's own procfs through its root", refusal: `has source "rootfs/proc" in the container's root, where the runtime has mounted "/proc"`, live: everyRuntime(writable),
			edit: addMounts(specs.Mount{Destination: "/p2", Type: "bind", Source: "rootfs/proc", Options: []string{"rbind"}})},
		{name: "a second procfs with rro", refusal: `a second procfs at "/mnt/proc"`, live: map[string]live{"runc": writable, "runc-": writable, "crun": readOnly},
			edit: addMounts(specs.Mount{Destination: "/mnt/proc", Type: "proc", Source: "proc", Options: []string{"rro"}})},
		{name: "the host's /proc rbound rro then rrw", refusal: `which resolves to "/proc" on a procfs`, live: map[string]live{"runc": readOnly, "runc-": writable, "crun": readOnly},
			edit: addMounts(specs.Mount{Destination: "/hostproc", Type: "bind", Source: "/proc", Options: []string{"rbind", "rro", "rrw"}})},
		{name: "the host's ns_last_pid bound rro then rrw", refusal: `read-write mount at "/proc/sys/kernel/ns_last_pid"`, live: map[string]live{"runc": readOnly, "runc-": writable, "crun": refusedByRuntime},
			edit: addMounts(specs.Mount{Destination: "/proc/sys/kernel/ns_last_pid", Type: "bind", Source: "/proc/sys/kernel/ns_last_pid", Options: []string{"bind", "rro", "rrw"}})},
	}
}

// TestHostileProcMounts: each spec shape that leaves some /proc/sys
// writable is refused before start (precreate grants nothing, patch and
// the runtime shim refuse, naming the mount, the spec file unchanged)
// and refused again by createRuntime on a config that already holds the
// grant, under every runtime. Real runc (Debian's and the newest) and
// crun show it is no false alarm: at least one starts it with a writable
// sys in its container's live mount table (spec.WritableProcSys,
// poststart's own rule), and each does what the table says.
func TestHostileProcMounts(t *testing.T) {
	requireRoot(t)
	for _, tt := range hostileMounts(t) {
		t.Run(tt.name, func(t *testing.T) {
			b := newBundle(t, "true")
			b.Edit(t, tt.edit)
			assertRefusedBeforeStart(t, b, "", "", tt.refusal)
			forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
				granted := func(s *specs.Spec) {
					tt.edit(s)
					addToEverySet(s, spec.CapCheckpointRestore)
					s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
				}
				if tt.live[runtimeKey(rt)] == refusedByRuntime {
					// The runtime fails the mount itself, before any hook.
					b := newBundle(t, "echo", "container-ran")
					b.Edit(t, granted)
					if r := rt.run(t, b); r.Code == 0 || strings.Contains(r.Stdout, "container-ran") {
						t.Fatalf("%s must refuse this spec itself: %s", rt.name, r)
					}
					return
				}
				assertCreateRuntimeRefuses(t, rt, granted, tt.refusal)
			})
			assertLive(t, b, tt.live)
		})
	}
	t.Run("runc's default spec is read-only live", func(t *testing.T) {
		b := newBundle(t, "true")
		for _, rt := range runtimes(t) {
			mounts, refusal, ok := liveMounts(t, rt, b)
			if !ok {
				t.Fatalf("%s: %s", rt.name, refusal)
			}
			if w := spec.WritableProcSys(mounts); w != "" {
				t.Errorf("%s: the default spec reads as writable: %s", rt.name, w)
			}
		}
	})
}

// assertRefusedBeforeStart: opted in with profile ("" for the default)
// under the admin config at configPath ("" for none), precreate passes
// the spec through granting nothing, patch and crhook-runtime refuse it
// naming refusal, and config.json stays as it was.
func assertRefusedBeforeStart(t *testing.T, b bundle, configPath, profile, refusal string) {
	t.Helper()
	before := readFile(t, b.ConfigPath())
	var withConfig, shimEnv []string
	if configPath != "" {
		withConfig, shimEnv = []string{"--config", configPath}, []string{"CRHOOK_CONFIG=" + configPath}
	}
	patch := append([]string{"patch", "--bundle", b.Dir}, withConfig...)
	if profile != "" {
		patch = append(patch, "--profile", profile)
	}
	r := crhook(t, nil, patch...)
	if r.Code != 1 || !strings.Contains(r.Stderr, refusal) {
		t.Errorf("patch must refuse naming %q: %s", refusal, r)
	}
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
		if profile != "" {
			s.Annotations[spec.AnnotationProfile] = profile
		}
	})
	optedIn := readFile(t, b.ConfigPath())
	if r := crhook(t, []byte(optedIn), append([]string{"precreate"}, withConfig...)...); r.Code != 0 || r.Stdout != optedIn {
		t.Errorf("precreate must pass the spec through unchanged, granting nothing: exit %d, %s", r.Code, r.Stderr)
	}
	root := runcRoot(t)
	id := containerID("hostile-shim")
	r = runEnv(t, shimEnv, nil, runtimeLink(t), "--root", root, "run", "--bundle", b.Dir, id)
	runQuiet("runc", "--root", root, "delete", "--force", id)
	if r.Code == 0 || !strings.Contains(r.Stderr, refusal) {
		t.Errorf("crhook-runtime must refuse naming %q: %s", refusal, r)
	}
	if readFile(t, b.ConfigPath()) != optedIn {
		t.Error("a refusal changed config.json")
	}
	mustDo(t, os.WriteFile(b.ConfigPath(), []byte(before), 0o644))
}

// runtimeKey is rt's key in a hostileMount's live map: runc, runc- (the
// newest) or crun.
func runtimeKey(rt ociRuntime) string {
	if strings.HasPrefix(rt.name, "runc-") {
		return "runc-"
	}
	return rt.name
}

// assertLive creates b with each runtime and holds its live mount table
// to want; at least one runtime must show a writable sys, else crhook's
// refusal would be a false alarm.
func assertLive(t *testing.T, b bundle, want map[string]live) {
	t.Helper()
	grounded := false
	for _, rt := range runtimes(t) {
		key := runtimeKey(rt)
		got := refusedByRuntime
		mounts, refusal, ok := liveMounts(t, rt, b)
		if ok {
			got = readOnly
			if w := spec.WritableProcSys(mounts); w != "" {
				got = writable
				t.Logf("%s's live container %s", rt.name, w)
			}
		} else {
			t.Logf("%s refuses this spec itself: %s", rt.name, refusal)
		}
		if got != want[key] {
			t.Errorf("%s: the live container is %s, want %s", rt.name, got, want[key])
		}
		grounded = grounded || got == writable
	}
	if !grounded {
		t.Error("no runtime leaves a writable sys: crhook's refusal would be a false alarm")
	}
}
