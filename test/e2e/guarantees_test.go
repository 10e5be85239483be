package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/spec"
)

// liveMounts creates the bundle's container with a real runtime, without
// starting it (its mounts, readonlyPaths and maskedPaths are in place by
// then), reads the init's mountinfo from the host and deletes it. ok is
// false, with the runtime's error, when the runtime refuses the spec.
func liveMounts(t *testing.T, rt ociRuntime, b bundle) (mounts []*mountinfo.Info, refusal string, ok bool) {
	t.Helper()
	id := containerID("live")
	root := runcRoot(t)
	script := `set -u
"$RT" $RTFLAGS --root "$ROOT" create --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>"$ROOT/create.err" || { cat "$ROOT/create.err" >&2; exit 3; }
pid=$("$RT" --root "$ROOT" state "$ID" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
cat /proc/$pid/mountinfo
"$RT" $RTFLAGS --root "$ROOT" delete --force "$ID"
`
	env := []string{"ROOT=" + root, "BUNDLE=" + b.Dir, "ID=" + id}
	var r result
	switch bin := rt.bin; bin {
	case "crun":
		r = runEnv(t, append(env, "RT="+requireTool(t, "crun"), "RTFLAGS=--cgroup-manager=disabled"), nil,
			"unshare", "-m", "sh", "-c", crunSetup, "crun-setup", "sh", "-c", script)
	default:
		if bin == "runc" {
			bin = requireTool(t, "runc")
		}
		r = runEnv(t, append(env, "RT="+bin, "RTFLAGS="), nil, "sh", "-c", script)
	}
	if r.Code == 3 {
		return nil, strings.TrimSpace(r.Stderr), false
	}
	if r.Code != 0 {
		t.Fatalf("%s create: %s", rt.name, r)
	}
	mounts, err := mountinfo.GetMountsFromReader(strings.NewReader(r.Stdout), nil)
	if err != nil || len(mounts) == 0 {
		t.Fatalf("no mountinfo from %s's container: %v\n%s", rt.name, err, r)
	}
	return mounts, "", true
}

// TestPoststartReadsTheLiveMounts: with the checks registered by hand
// and no createRuntime, a bind of the host's procfs through a link
// reaches the runtime. poststart reads the live mount table, finds a
// procfs with a writable sys, and the container is stopped.
func TestPoststartReadsTheLiveMounts(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
		link := filepath.Join(t.TempDir(), "not-proc")
		mustDo(t, os.Symlink("/proc", link))
		assertHookRefuses(t, rt, "poststart", "", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostproc", Type: "bind", Source: link, Options: []string{"rbind", "rw"}})
			addToEverySet(s, spec.CapCheckpointRestore)
			s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
		}, "sees a writable sys at")
	})
}

// TestLowerCaseCapabilityNames: runc ignores "cap_checkpoint_restore"
// (it looks names up exactly), so a spec holding only that spelling has
// no capability, and createRuntime refuses it instead of letting it
// start without.
func TestLowerCaseCapabilityNames(t *testing.T) {
	lower := func(s *specs.Spec) {
		addToEverySet(s, "cap_checkpoint_restore")
		s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
	}
	t.Run("runc ignores the lower-case name", func(t *testing.T) {
		b := newBundle(t, verifyArgs...)
		b.Edit(t, lower)
		r := runcRun(t, b)
		if c := check(t, parseReport(t, r), "set_tid"); !strings.Contains(c.Detail, "EPERM") {
			t.Fatalf("runc granted a lower-case capability name: %+v", c)
		}
	})
	forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
		assertCreateRuntimeRefuses(t, rt, lower, "capabilities missing")
	})
}

// TestSharedPIDNamespaceIsRefused: a container without a PID namespace
// of its own (--pid=host, hostPID) is refused by patch and, with the
// checks registered by hand, by createRuntime under runc and crun.
func TestSharedPIDNamespaceIsRefused(t *testing.T) {
	hostPID := func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
	}
	b := newBundle(t, "true")
	b.Edit(t, hostPID)
	if r := crhook(t, nil, "patch", "--bundle", b.Dir); r.Code != 1 || !strings.Contains(r.Stderr, "PID namespace") {
		t.Fatalf("patch must refuse naming the PID namespace: %s", r)
	}
	forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
		assertCreateRuntimeRefuses(t, rt, func(s *specs.Spec) {
			hostPID(s)
			addToEverySet(s, spec.CapCheckpointRestore)
			s.Annotations = map[string]string{spec.AnnotationRestore: "true"}
		}, "shares the runtime's (the host's) PID namespace")
	})
}

// TestNotOptedInPassesUntouched: a spec that never opted in reaches the
// runtime through precreate and the shim byte for byte, even one crhook
// would refuse from a container that asks (a member twice, in two
// spellings).
func TestNotOptedInPassesUntouched(t *testing.T) {
	b := newBundle(t, "echo", "container-ran")
	raw := strings.Replace(readFile(t, b.ConfigPath()), `"hostname":`, `"Hostname": "other", "hostname":`, 1)
	mustDo(t, os.WriteFile(b.ConfigPath(), []byte(raw), 0o644))
	if r := crhook(t, []byte(raw), "precreate"); r.Code != 0 || r.Stdout != raw {
		t.Fatalf("precreate must pass the spec on byte for byte: exit %d, %d bytes in, %d out\n%s", r.Code, len(raw), len(r.Stdout), r.Stderr)
	}
	root := runcRoot(t)
	id := containerID("untouched")
	r := run(t, nil, runtimeLink(t), "--root", root, "run", "--bundle", b.Dir, id)
	runQuiet("runc", "--root", root, "delete", "--force", id)
	if strings.Contains(r.Stderr, "crhook") {
		t.Errorf("the shim spoke up for a container that did not opt in: %s", r)
	}
	if readFile(t, b.ConfigPath()) != raw {
		t.Error("the shim changed config.json of a container that did not opt in")
	}
	if r.Code != 0 || !strings.Contains(r.Stdout, "container-ran") {
		t.Errorf("runc should run it as it reads it: %s", r)
	}
}

// assertCreateRuntimeRefuses runs a container edited by edit, with
// crhook's createRuntime check registered by hand, under rt: it must not
// start, and crhook must say why.
func assertCreateRuntimeRefuses(t *testing.T, rt ociRuntime, edit func(*specs.Spec), why string) {
	t.Helper()
	assertHookRefuses(t, rt, "createRuntime", "", edit, why)
}

// assertHookRefuses runs a container edited by edit, with crhook's stage
// alone registered by hand under an admin config holding policy, under
// rt: its program must not run to its end (poststart kills it), and
// crhook must say why.
func assertHookRefuses(t *testing.T, rt ociRuntime, stage, policy string, edit func(*specs.Spec), why string) {
	t.Helper()
	b := newBundle(t, "sh", "-c", "sleep 2; echo container-ran")
	configPath, logPath := writeConfig(t, policy)
	b.Edit(t, func(s *specs.Spec) {
		edit(s)
		h := []specs.Hook{{Path: hookBin, Args: []string{"crhook-hook", stage, "--config", configPath}}}
		s.Hooks = &specs.Hooks{}
		if stage == "poststart" {
			s.Hooks.Poststart = h
		} else {
			s.Hooks.CreateRuntime = h
		}
	})
	r := rt.run(t, b)
	if strings.Contains(r.Stdout, "container-ran") {
		t.Fatalf("the container must not run to its end: %s", r)
	}
	assertRefusal(t, rt, r, logPath, stage, why)
}

// TestCheckpointNeverInSharedPIDNamespace: with the admin's
// allow_shared_pid_namespace = true and the checkpoint profile allowed,
// a container in the host's PID namespace would hold CAP_SYS_PTRACE
// there and could attach to any process of the host, root's included.
// patch refuses it, and so do createRuntime and poststart when the grant
// is already in the spec, under runc and crun. The same container under
// profile restore starts, with the exception in the log.
func TestCheckpointNeverInSharedPIDNamespace(t *testing.T) {
	const policy = "allow_shared_pid_namespace = true\nallowed_profiles = [\"minimal\", \"restore\", \"checkpoint\"]\n"
	hostPID := func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
	}
	checkpointGrant := func(s *specs.Spec) {
		hostPID(s)
		for _, c := range spec.ProfileCheckpoint.Capabilities() {
			addToEverySet(s, c)
		}
		s.Annotations = map[string]string{spec.AnnotationRestore: "true", spec.AnnotationProfile: string(spec.ProfileCheckpoint)}
	}
	const why = "which crhook never grants in a PID namespace that is not the container's own new one"
	configPath, logPath := writeConfig(t, policy)
	b := newBundle(t, "true")
	b.Edit(t, hostPID)
	assertRefusedBeforeStart(t, b, configPath, "checkpoint", why)
	if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", "restore", "--config", configPath); r.Code != 0 {
		t.Fatalf("under profile restore the admin's exception applies: %s", r)
	}
	if r := runcRun(t, b); r.Code != 0 {
		t.Fatalf("runc: %s", r)
	}
	if !slices.ContainsFunc(readLog(t, logPath), func(l logLine) bool {
		return l.Stage == "poststart" && strings.Contains(strings.Join(l.Notes, ";"), "allow_shared_pid_namespace = true")
	}) {
		t.Error("poststart did not log the exception it relied on")
	}
	forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
		t.Run("createRuntime", func(t *testing.T) {
			assertHookRefuses(t, rt, "createRuntime", policy, checkpointGrant, why)
		})
		t.Run("poststart", func(t *testing.T) {
			assertHookRefuses(t, rt, "poststart", policy, checkpointGrant, why)
		})
	})
}

// TestPoststartSeccompOnEveryRuntime: under checkpoint_seccomp =
// "refuse", a checkpoint container whose config installs a seccomp
// filter, with noNewPrivileges, reaches poststart (createRuntime is not
// registered). runc installs the filter before it
// runs poststart; crun installs it right before exec, after it starts
// poststart. Either way poststart must refuse it: its live check says
// what the container will run under.
func TestPoststartSeccompOnEveryRuntime(t *testing.T) {
	const policy = "allowed_profiles = [\"minimal\", \"restore\", \"checkpoint\"]\ncheckpoint_seccomp = \"refuse\"\n"
	forEachRuntime(t, func(t *testing.T, rt ociRuntime) {
		assertHookRefuses(t, rt, "poststart", policy, func(s *specs.Spec) {
			for _, c := range spec.ProfileCheckpoint.Capabilities() {
				addToEverySet(s, c)
			}
			s.Process.NoNewPrivileges = true
			s.Linux.Seccomp = dockerSeccomp(t, s)
			s.Annotations = map[string]string{spec.AnnotationRestore: "true", spec.AnnotationProfile: string(spec.ProfileCheckpoint)}
		}, "so criu dump will fail")
	})
}
