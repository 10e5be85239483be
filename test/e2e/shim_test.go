package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestShimLeavesOtherContainersAlone: crhook-runtime in front of real runc
// leaves a bundle without the annotation byte for byte as it was, passes
// the container's exit status back, and passes other commands through.
func TestShimLeavesOtherContainersAlone(t *testing.T) {
	b := newBundle(t, "sh", "-c", "exit 7")
	before, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	shimPath := runtimeLink(t)
	root := runcRoot(t)
	id := containerID("shim")
	r := runEnv(t, []string{"CRHOOK_RUNTIME=" + requireTool(t, "runc")}, nil, shimPath, "--root", root, "run", "--bundle", b.Dir, id)
	if r.Code != 7 {
		t.Fatalf("the container's exit status must come back: %s", r)
	}
	after, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("crhook-runtime changed the config.json of a container that did not opt in")
	}
	direct := run(t, nil, requireTool(t, "runc"), "--version")
	viaShim := runEnv(t, []string{"CRHOOK_RUNTIME=runc"}, nil, shimPath, "--version")
	if viaShim.Code != 0 || viaShim.Stdout != direct.Stdout {
		t.Fatalf("--version must pass through: %s vs %s", viaShim, direct)
	}
	missing := runEnv(t, []string{"CRHOOK_RUNTIME=runc"}, nil, shimPath, "--root", root, "state", "no-such-container")
	if missing.Code != 1 || !strings.Contains(missing.Stderr, "container does not exist") {
		t.Fatalf("state must pass through with runc's own error and status: %s", missing)
	}
	// A runtime that is crhook itself would exec itself forever.
	for _, args := range [][]string{{"--root", root, "state", id}, {"--root", root, "run", "--bundle", b.Dir, id}} {
		loop := runEnv(t, []string{"CRHOOK_RUNTIME=" + shimPath}, nil, shimPath, args...)
		if loop.Code != 2 || !strings.Contains(loop.Stderr, "is crhook itself") {
			t.Errorf("%s with crhook as the runtime: %s", args[2], loop)
		}
	}
}

// TestShimAdjustsLikePatch: `crhook runtime --runtime runc -- run` on an
// annotated bundle grants what patch grants. It checks the config it
// wrote itself, which runc then reads, so only the live check, poststart,
// is a hook.
func TestShimAdjustsLikePatch(t *testing.T) {
	b := newBundle(t, verifyArgs...)
	b.Edit(t, func(s *specs.Spec) { s.Annotations = map[string]string{"io.crhook.restore": "true"} })
	root := runcRoot(t)
	r := crhook(t, nil, "runtime", "--runtime", requireTool(t, "runc"), "--", "--root", root, "run", "--bundle", b.Dir, containerID("shim"))
	if r.Code != 0 {
		t.Fatalf("verify through the shim: %s", r)
	}
	if rep := parseReport(t, r); !rep.OK || rep.Drill.Parent.Got != 500 {
		t.Fatalf("report: %+v", rep)
	}
	s := b.Spec(t)
	if s.Hooks == nil || len(s.Hooks.CreateRuntime) != 0 || len(s.Hooks.Poststart) != 1 {
		t.Fatalf("the shim must register crhook's poststart check alone: %+v", s.Hooks)
	}
}
