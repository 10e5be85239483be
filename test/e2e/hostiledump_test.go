package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crhook/crhook/internal/criuimage/imagetest"
)

// realDumpDir is a dump criu wrote (internal/criuimage/testdata).
const realDumpDir = "../../internal/criuimage/testdata/minimal-nnp"

// maxVerifyRSS is the peak memory `crhook verify --images` may reach on
// any dump, however hostile.
const maxVerifyRSS = 128 << 20

// TestVerifyImagesHostileDumps runs the real crhook verify --images on
// dumps made to exhaust it. The first is the review's: pstree lists one
// thread 16 times, pointing at a 60 MB core with 30 million groups,
// which took 3.4 GB and 24 s. Each must end as bad input, in one line,
// under maxVerifyRSS.
func TestVerifyImagesHostileDumps(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name   string
		bend   func(d imagetest.Dump) error
		wantIn string
	}{
		{name: "one thread 16 times, a 60 MB core of 30 million groups", wantIn: "lists thread 106 twice", bend: func(d imagetest.Dump) error {
			core, err := imagetest.CoreWithGroups(d["core-106.img"], 30_000_000)
			d["core-106.img"] = core
			ids := make([]uint32, 16)
			for i := range ids {
				ids[i] = 106
			}
			d["pstree.img"], _ = imagetest.Pstree(imagetest.Task(106, ids...))
			return err
		}},
		{name: "a 60 MB core of 30 million groups", wantIn: "core-106.img is larger than", bend: func(d imagetest.Dump) (err error) {
			d["core-106.img"], err = imagetest.CoreWithGroups(d["core-106.img"], 30_000_000)
			return err
		}},
		{name: "60 threads, each a core of 900 KiB", wantIn: "add up to more than", bend: func(d imagetest.Dump) error {
			core, err := imagetest.CorePadded(d["core-106.img"], 900<<10)
			ids := make([]uint32, 60)
			for i := range ids {
				ids[i] = uint32(2000 + i)
				d[imagetest.CoreName(ids[i])] = core
			}
			d["pstree.img"], _ = imagetest.Pstree(imagetest.Task(ids[0], ids...))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := imagetest.ReadDump(realDumpDir)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.bend(d); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := d.Write(dir); err != nil {
				t.Fatal(err)
			}
			r, peak := runMeasured(t, crhookBin, "verify", "--images", dir)
			t.Logf("exit %d, peak RSS %d MiB: %s", r.Code, peak>>20, strings.TrimSpace(r.Stderr))
			if r.Code != 2 {
				t.Errorf("exit %d, want 2 (bad input)", r.Code)
			}
			assertStderr(t, r, r.Code, tt.wantIn)
			if peak >= maxVerifyRSS {
				t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, maxVerifyRSS>>20)
			}
		})
	}
}

// runMeasured runs a command to its end under GNU time and returns what
// it printed and its peak resident memory in bytes. The command's own
// rusage would not do: Go starts a command on this process's memory
// (vfork), and the kernel counts this process's peak in the command's.
// time forks from its own small memory.
func runMeasured(t *testing.T, name string, args ...string) (result, int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rss")
	r := run(t, nil, requireTool(t, "time"), append([]string{"-o", out, "-f", "%M", name}, args...)...)
	// GNU time writes "Command exited with non-zero status N" before the
	// format's line when the command fails.
	lines := strings.Fields(readFile(t, out))
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		t.Fatalf("time wrote no peak RSS: %v", err)
	}
	return r, kib << 10
}

// TestVerifyImagesOwnThreadsAreNoCollision: in a fresh PID namespace,
// crhook verify --images is PID 1 and its Go threads take the next few
// PIDs, the ones a small dumped tree often had. They are gone when criu
// runs, so the preflight must not call them taken (it did, and a shipped
// restore pod failed on it).
func TestVerifyImagesOwnThreadsAreNoCollision(t *testing.T) {
	requireRoot(t)
	d, err := imagetest.ReadDump(realDumpDir)
	if err != nil {
		t.Fatal(err)
	}
	ids := []uint32{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, id := range ids {
		d[imagetest.CoreName(id)] = d["core-106.img"]
	}
	if d["pstree.img"], err = imagetest.Pstree(imagetest.Task(2, ids...)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustDo(t, d.Write(dir))
	r := run(t, nil, "unshare", "--pid", "--fork", "--mount-proc", crhookBin, "verify", "--images", dir, "--json")
	if strings.Contains(r.Stdout, "is taken here") {
		t.Fatalf("the preflight counts its own threads as taken PIDs:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, `"pids"`) {
		t.Fatalf("no preflight report: %s", r)
	}
}
