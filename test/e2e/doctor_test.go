package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/doctor"
)

// TestDoctor: on this host (Linux 6.x, runc, crun, podman, containerd)
// doctor says ready, finds the runtimes with versions, and sees crhook
// installed into podman once it is.
func TestDoctor(t *testing.T) {
	requireRoot(t)
	hooksDir := t.TempDir()
	lines := func() map[string]doctor.Line {
		r := crhook(t, nil, "doctor", "--json", "--hooks-dir", hooksDir)
		var rep doctor.Report
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r)
		}
		if !rep.Ready || r.Code != 0 {
			t.Fatalf("this host is ready: %s", r)
		}
		byName := map[string]doctor.Line{}
		for _, l := range rep.Lines {
			byName[l.Name] = l
		}
		return byName
	}
	before := lines()
	for _, name := range []string{"kernel", "clone3 set_tid", "runc", "crun"} {
		if l := before[name]; l.Status != doctor.StatusOK {
			t.Errorf("%s: %+v", name, l)
		}
	}
	for _, name := range []string{"runc", "crun", "podman", "containerd"} {
		if before[name].Version == "" {
			t.Errorf("%s has no version: %+v", name, before[name])
		}
	}
	for _, name := range []string{"podman", "docker", "containerd", "crhook-runtime"} {
		if rt := before[name].Runtime; rt == nil || rt.Error != "" || rt.Version == "" || !strings.HasPrefix(filepath.Base(rt.Path), "runc") && !strings.HasPrefix(filepath.Base(rt.Path), "crun") {
			t.Errorf("%s: doctor must name the runtime it runs containers with, and its version: %+v", name, before[name])
		}
	}
	if l := before["log"]; l.Status != doctor.StatusOK || !strings.Contains(l.Detail, "recorded in "+config.DefaultLogFile) {
		t.Errorf("doctor must say where hook runs are recorded: %+v", l)
	}
	if l := before["podman"]; l.Status != doctor.StatusInfo || l.Fix != "crhook install --for podman" {
		t.Errorf("podman before install: %+v", l)
	}
	if r := crhook(t, nil, "install", "--for", "podman", "--hooks-dir", hooksDir, "--record", filepath.Join(t.TempDir(), "install-record.json")); r.Code != 0 {
		t.Fatalf("install: %s", r)
	}
	if l := lines()["podman"]; l.Status != doctor.StatusOK {
		t.Errorf("podman after install: %+v", l)
	}
}
