package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// criuBundle is a hardened runc bundle (uid 1000, no_new_privs,
// /proc/sys read-only, from newBundle) with criu in its rootfs and the
// images directory at /ckpt.
func criuBundle(t *testing.T, criu, images string, args ...string) bundle {
	t.Helper()
	b := newBundle(t, args...)
	addCRIU(t, filepath.Join(b.Dir, "rootfs"), criu)
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/ckpt", Type: "bind", Source: images, Options: []string{"rbind", "rw"}})
	})
	return b
}

// runcDump dumps the app from a runc container patched with profile,
// which runs without a seccomp filter (runc's default spec has none).
// dumpArgs go to criu-dump ("drop-caps" starts the app without any).
func runcDump(t *testing.T, criu, images, configPath, profile string, dumpArgs ...string) dumpResult {
	t.Helper()
	b := criuBundle(t, criu, images, append([]string{"/bin/criu-dump"}, dumpArgs...)...)
	if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", profile, "--config", configPath); r.Code != 0 {
		t.Fatalf("patch: %s", r)
	}
	d := parseDump(t, runcRun(t, b))
	if d.Code != 0 {
		t.Fatalf("criu dump failed (%d):\n%s", d.Code, tail(criuLog(t, images, "dump.log"), 3000))
	}
	return d
}

// runcRestore runs criu-restore in a fresh runc container under Docker's
// default seccomp profile, set up by grant.
func runcRestore(t *testing.T, criu, images string, app int, grant func(*testing.T, bundle)) restoreResult {
	t.Helper()
	b := criuBundle(t, criu, images, "/bin/criu-restore", strconv.Itoa(app))
	b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
	grant(t, b)
	return parseRestore(t, runcRun(t, b))
}

// grantByPatch is the grant crhook gives: patch with profile under the
// admin config at configPath.
func grantByPatch(configPath, profile string) func(*testing.T, bundle) {
	return func(t *testing.T, b bundle) {
		t.Helper()
		if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", profile, "--config", configPath); r.Code != 0 {
			t.Fatalf("patch: %s", r)
		}
	}
}

// grantByHand is what an admin without crhook does: the capability in all
// five sets, seccomp left as Docker's.
func grantByHand(t *testing.T, b bundle) {
	t.Helper()
	b.Edit(t, func(s *specs.Spec) { addToEverySet(s, "CAP_CHECKPOINT_RESTORE") })
}

// TestCRIURunc: non-root criu dump and restore between two hardened runc
// containers, crhook applied with patch.
func TestCRIURunc(t *testing.T) {
	criu := requireCRIU(t)
	configPath, _ := writeConfig(t, `allowed_profiles = ["minimal", "restore", "checkpoint"]`)

	t.Run("minimal dump, minimal restore", func(t *testing.T) {
		images := imagesDir(t)
		dump := runcDump(t, criu, images, configPath, "minimal")
		rr := runcRestore(t, criu, images, dump.App, grantByPatch(configPath, "minimal"))
		assertRestored(t, rr, dump, images)
		t.Run("capabilities by hand, seccomp untouched: ns_last_pid", func(t *testing.T) {
			rr := runcRestore(t, criu, images, dump.App, grantByHand)
			assertRefused(t, rr, images, "seccomp blocks clone3 and /proc/sys is read-only", "ns_last_pid on procfs: Read-only file system")
		})
		t.Run("no crhook", func(t *testing.T) {
			rr := runcRestore(t, criu, images, dump.App, func(*testing.T, bundle) {})
			assertRefused(t, rr, images, "lacks CAP_CHECKPOINT_RESTORE", "CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability")
		})
	})
	t.Run("checkpoint dump, checkpoint restore", func(t *testing.T) {
		images := imagesDir(t)
		dump := runcDump(t, criu, images, configPath, "checkpoint")
		// The restore container keeps Docker's default seccomp profile:
		// the filter stops a dump, not a restore.
		b := criuBundle(t, criu, images, "/bin/criu-restore", strconv.Itoa(dump.App))
		b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
		grantByPatch(configPath, "checkpoint")(t, b)
		assertRestored(t, parseRestore(t, runcRun(t, b)), dump, images)
		t.Run("under minimal the preflight refuses, and criu fails", func(t *testing.T) {
			rr := runcRestore(t, criu, images, dump.App, grantByPatch(configPath, "minimal"))
			assertRefused(t, rr, images, "holds CAP_SETPCAP, CAP_SYS_PTRACE, which this container lacks", "Unable to restore capabilities")
		})
	})
	t.Run("an app started with drop-caps: checkpoint dump, minimal restore under Docker's seccomp", func(t *testing.T) {
		images := imagesDir(t)
		dump := runcDump(t, criu, images, configPath, "checkpoint", "drop-caps")
		rr := runcRestore(t, criu, images, dump.App, grantByPatch(configPath, "minimal"))
		assertRestored(t, rr, dump, images)
		if rr.CapEff != "0000000000000000" {
			t.Errorf("the restored app holds capabilities %s; it started with none", rr.CapEff)
		}
		if c := check(t, rr.Report, "restore_images"); !strings.Contains(c.Detail, "hold no capability") {
			t.Errorf("the preflight does not say the dump holds no capability: %+v", c)
		}
	})
	t.Run("a dump under a seccomp filter fails, as verify says", func(t *testing.T) {
		assertDumpUnderSeccompFails(t, criu, configPath)
	})
	t.Run("checkpoint under Docker's seccomp: admin's checkpoint_seccomp = remove", func(t *testing.T) {
		assertDumpWithSeccompRemoved(t, criu)
	})
	t.Run("PIDs taken: a second restore in the same container", func(t *testing.T) {
		images := imagesDir(t)
		dump := runcDump(t, criu, images, configPath, "minimal")
		b := criuBundle(t, criu, images, "sh", "-c", "/bin/criu-restore "+strconv.Itoa(dump.App)+"; /bin/criu-restore "+strconv.Itoa(dump.App))
		b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
		grantByPatch(configPath, "minimal")(t, b)
		r := runcRun(t, b)
		second := r
		if i := strings.LastIndex(r.Stdout, "\n{"); i > 0 {
			second.Stdout = r.Stdout[i:]
		}
		assertRefused(t, parseRestore(t, second), images, "of the dump is taken here", "File exists")
	})
}

// assertDumpUnderSeccompFails: under Docker's seccomp profile a minimal
// container's criu dump fails, and verify, run first, warned so.
func assertDumpUnderSeccompFails(t *testing.T, criu, configPath string) {
	t.Helper()
	images := imagesDir(t)
	b := criuBundle(t, criu, images, "sh", "-c", "crhook verify --json; /bin/criu-dump")
	b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
	grantByPatch(configPath, "minimal")(t, b)
	r := runcRun(t, b)
	if d := parseDump(t, r); d.Code == 0 {
		t.Fatalf("criu dumped a task under a seccomp filter: %s", r)
	}
	if c := check(t, parseReport(t, result{Stdout: r.Stdout[:strings.Index(r.Stdout, "\napp=")]}), "seccomp_dump"); !strings.Contains(c.Detail, "criu dump of processes here fails") {
		t.Errorf("verify did not warn: %+v", c)
	}
	if log := criuLog(t, images, "dump.log"); !strings.Contains(log, "suspending seccomp failed: Operation not permitted") {
		t.Errorf("criu failed otherwise:\n%s", tail(log, 2000))
	}
}

// assertDumpWithSeccompRemoved: with checkpoint_seccomp = "remove" in the
// admin config, patch drops Docker's seccomp filter from a checkpoint
// container, criu dump works, and the removal is logged.
func assertDumpWithSeccompRemoved(t *testing.T, criu string) {
	t.Helper()
	removeConfig, logPath := writeConfig(t, `allowed_profiles = ["minimal", "restore", "checkpoint"]`+"\n"+`checkpoint_seccomp = "remove"`)
	images := imagesDir(t)
	b := criuBundle(t, criu, images, "/bin/criu-dump")
	b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
	if r := crhook(t, nil, "patch", "--bundle", b.Dir, "--profile", "checkpoint", "--config", removeConfig); r.Code != 0 || !strings.Contains(r.Stdout, "removed linux.seccomp") {
		t.Fatalf("patch: %s", r)
	}
	if d := parseDump(t, runcRun(t, b)); d.Code != 0 {
		t.Fatalf("criu dump failed:\n%s", tail(criuLog(t, images, "dump.log"), 2000))
	}
	if !strings.Contains(readFile(t, logPath), "checkpoint_seccomp=remove") {
		t.Error("the removal is not in crhook's log")
	}
}
