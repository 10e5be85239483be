package e2e

import (
	"strconv"
	"testing"

	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crhook/crhook/spec"
)

// allProfiles is an admin config that lets annotations pick every profile.
const allProfiles = `allowed_profiles = ["minimal", "restore", "checkpoint"]`

// TestCRIUPodman: non-root criu dump and restore between two hardened
// podman containers (uid 1000, no-new-privileges, podman's read-only
// /proc/sys), crhook installed into a hooks dir. The dump container runs
// unconfined, as dumping needs; the restore containers under podman's
// default seccomp profile.
func TestCRIUPodman(t *testing.T) {
	criu := requireCRIU(t)
	image := importRootfs(t, func(rootfs string) { addCRIU(t, rootfs, criu) })
	hooksDir, _ := installPodmanHooks(t, allProfiles)
	run := func(t *testing.T, images, profile string, flags []string, args ...string) result {
		t.Helper()
		a := append(append(podmanGlobal(hooksDir), "run", "--rm"), podmanRunFlags...)
		a = append(a, "--user", "1000", "--security-opt", "no-new-privileges", "-v", images+":/ckpt")
		if profile != "" {
			a = append(a, "--annotation", spec.AnnotationRestore+"=true", "--annotation", spec.AnnotationProfile+"="+profile)
		}
		a = append(append(append(a, flags...), image), args...)
		return podman(t, a...)
	}
	dump := func(t *testing.T, images, profile string, dumpArgs ...string) dumpResult {
		t.Helper()
		d := parseDump(t, run(t, images, profile, []string{"--security-opt", "seccomp=unconfined"}, append([]string{"/bin/criu-dump"}, dumpArgs...)...))
		if d.Code != 0 {
			t.Fatalf("criu dump failed (%d):\n%s", d.Code, tail(criuLog(t, images, "dump.log"), 3000))
		}
		return d
	}
	restore := func(t *testing.T, images, profile string, app int, flags ...string) restoreResult {
		t.Helper()
		return parseRestore(t, run(t, images, profile, flags, "/bin/criu-restore", strconv.Itoa(app)))
	}

	t.Run("minimal dump, minimal restore", func(t *testing.T) {
		images := imagesDir(t)
		d := dump(t, images, "minimal")
		assertRestored(t, restore(t, images, "minimal", d.App), d, images)
		t.Run("capabilities by hand under podman's own profile work", func(t *testing.T) {
			// podman 4.3 puts a --cap-add capability in the ambient set
			// for --user 1000, and Debian's podman profile allows clone3:
			// here crhook adds its checks, not the grant.
			rr := restore(t, images, "", d.App, "--cap-add", "CHECKPOINT_RESTORE")
			assertRestored(t, rr, d, images)
		})
		t.Run("capabilities by hand under Docker's profile: ns_last_pid", func(t *testing.T) {
			rr := restore(t, images, "", d.App, "--cap-add", "CHECKPOINT_RESTORE", "--security-opt", "seccomp="+dockerProfileFile(t))
			assertRefused(t, rr, images, "seccomp blocks clone3 and /proc/sys is read-only", "ns_last_pid on procfs: Read-only file system")
		})
	})
	t.Run("checkpoint dump, minimal restore: the preflight refuses", func(t *testing.T) {
		images := imagesDir(t)
		d := dump(t, images, "checkpoint")
		rr := restore(t, images, "minimal", d.App)
		assertRefused(t, rr, images, "holds CAP_SETPCAP, CAP_SYS_PTRACE, which this container lacks", "Unable to restore capabilities")
		t.Run("checkpoint restore under podman's default seccomp profile", func(t *testing.T) {
			assertRestored(t, restore(t, images, "checkpoint", d.App), d, images)
		})
	})
	t.Run("an app started with drop-caps: checkpoint dump, minimal restore under podman's seccomp", func(t *testing.T) {
		images := imagesDir(t)
		d := dump(t, images, "checkpoint", "drop-caps")
		rr := restore(t, images, "minimal", d.App)
		assertRestored(t, rr, d, images)
		if rr.CapEff != "0000000000000000" {
			t.Errorf("the restored app holds capabilities %s; it started with none", rr.CapEff)
		}
	})
}

// TestCRIUKubernetes: the Kubernetes path, containerd's CRI driven as
// kubelet drives it, with crhook installed as the "crhook" runtime
// handler. Pods run as uid 1000 with all capabilities dropped, no new
// privileges and kubelet's masked and read-only paths; the images are a
// host path both pods mount. The dump pod has no seccompProfile
// (unconfined, as Kubernetes runs pods by default); the restore pod uses
// RuntimeDefault, containerd's profile, which returns ENOSYS for clone3.
func TestCRIUKubernetes(t *testing.T) {
	criu := requireCRIU(t)
	ct := newCRITestWith(t, allProfiles, func(rootfs string) { addCRIU(t, rootfs, criu) })
	podFor := func(name, handler, profile string, images string, unconfined bool) pod {
		p := pod{name: name, handler: handler, readonly: kubeletReadonlyPaths, unconfined: unconfined,
			mounts: []*cri.Mount{{ContainerPath: "/ckpt", HostPath: images}}}
		if profile != "" {
			p.annotations = map[string]string{spec.AnnotationRestore: "true", spec.AnnotationProfile: profile}
		}
		return p
	}
	dump := func(t *testing.T, images, profile string) dumpResult {
		t.Helper()
		log, err := ct.runPod(t, podFor("dump-"+profile, "crhook", profile, images, true), "/bin/criu-dump")
		if err != nil {
			t.Fatalf("dump pod: %v", err)
		}
		d := parseDump(t, result{Stdout: log})
		if d.Code != 0 {
			t.Fatalf("criu dump failed (%d):\n%s", d.Code, tail(criuLog(t, images, "dump.log"), 3000))
		}
		return d
	}
	restore := func(t *testing.T, p pod, app int) restoreResult {
		t.Helper()
		log, err := ct.runPod(t, p, "/bin/criu-restore", strconv.Itoa(app))
		if err != nil {
			t.Fatalf("restore pod: %v", err)
		}
		return parseRestore(t, result{Stdout: log})
	}

	t.Run("minimal dump, minimal restore", func(t *testing.T) {
		images := imagesDir(t)
		d := dump(t, images, "minimal")
		assertRestored(t, restore(t, podFor("restore-minimal", "crhook", "minimal", images, false), d.App), d, images)
		t.Run("capabilities by hand: capabilities.add", func(t *testing.T) {
			p := podFor("restore-by-hand", "", "", images, false)
			p.addCaps = []string{"CHECKPOINT_RESTORE"}
			rr := restore(t, p, d.App)
			assertRefused(t, rr, images, "lacks CAP_CHECKPOINT_RESTORE", "CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability")
		})
	})
	t.Run("checkpoint dump, minimal restore: the preflight refuses", func(t *testing.T) {
		images := imagesDir(t)
		d := dump(t, images, "checkpoint")
		rr := restore(t, podFor("restore-checkpoint-dump", "crhook", "minimal", images, false), d.App)
		assertRefused(t, rr, images, "holds CAP_SETPCAP, CAP_SYS_PTRACE, which this container lacks", "Unable to restore capabilities")
	})
}
