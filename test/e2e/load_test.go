package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
)

// loadContainers is how many opted-in containers start at once.
const loadContainers = 50

// TestLoad starts 50 opted-in containers at once with real runc, each
// checked by createRuntime and poststart. All start and pass their
// checks, each places a tree at chosen PIDs, and the log holds exactly
// one well-formed structured line per hook run.
func TestLoad(t *testing.T) {
	requireRoot(t)
	configPath, logPath := writeConfig(t, "")
	// poststart must find the process alive: it sleeps before verify.
	cmd := "sleep 5; exec " + strings.Join(verifyArgs, " ")
	bundles := make([]bundle, loadContainers)
	for i := range bundles {
		bundles[i] = newBundle(t, "sh", "-c", cmd)
		if r := crhook(t, nil, "patch", "--bundle", bundles[i].Dir, "--config", configPath); r.Code != 0 {
			t.Fatalf("patch %d: %s", i, r)
		}
	}
	root := runcRoot(t)
	ids := make([]string, loadContainers)
	results := make([]result, loadContainers)
	var wg sync.WaitGroup
	for i := range bundles {
		ids[i] = containerID("load")
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runLoaded(t, root, ids[i], bundles[i])
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("container %d: %s", i, r)
			continue
		}
		var rep struct {
			OK bool `json:"ok"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || !rep.OK {
			t.Errorf("container %d: verify: %v %s", i, err, r.Stdout)
		}
	}
	assertOneLinePerRun(t, logPath, ids)
}

// runLoaded is runcRun without t.Fatal, which must not be called from a
// goroutine other than the test's.
func runLoaded(t *testing.T, root, id string, b bundle) result {
	t.Cleanup(func() { runQuiet("runc", "--root", root, "delete", "--force", id) })
	return runNoFatal("runc", "--root", root, "run", "--bundle", b.Dir, id)
}

func assertOneLinePerRun(t *testing.T, logPath string, ids []string) {
	t.Helper()
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if want := 3 * len(ids); len(lines) != want {
		t.Fatalf("%d log lines, want %d (patch, createRuntime, poststart per container)", len(lines), want)
	}
	perContainer := map[string]map[string]int{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", l, err)
		}
		for _, key := range []string{"time", "level", "msg", "stage", "container", "opted_in", "result", "ms"} {
			if _, ok := rec[key]; !ok {
				t.Fatalf("line lacks %q: %s", key, l)
			}
		}
		stage := rec["stage"].(string)
		if rec["result"] != "ok" {
			t.Errorf("%s did not pass: %s", stage, l)
		}
		if stage == "patch" {
			continue
		}
		id := rec["container"].(string)
		if perContainer[id] == nil {
			perContainer[id] = map[string]int{}
		}
		perContainer[id][stage]++
	}
	for _, id := range ids {
		if got := perContainer[id]; got["createRuntime"] != 1 || got["poststart"] != 1 {
			t.Errorf("container %s: %v, want one createRuntime and one poststart line", id, got)
		}
	}
	if len(perContainer) != len(ids) {
		t.Errorf("log names %d containers, want %d", len(perContainer), len(ids))
	}
}
