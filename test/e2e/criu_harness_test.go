package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/verify"
)

// The real-CRIU tests take a CRIU of 3.18 or later (the first with
// --unprivileged) from $CRIU, or criu on PATH when it is new enough.
// Debian 12 packages only 3.17, so without one they skip with one line;
// `make test-criu CRIU=PATH` sets CRHOOK_REQUIRE_CRIU=1 and then a
// missing or old CRIU fails instead.
var (
	criuOnce   sync.Once
	criuBinary string
	criuSkip   string
)

func requireCRIU(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	criuOnce.Do(func() { criuBinary, criuSkip = findCRIU() })
	if criuSkip != "" {
		if os.Getenv("CRHOOK_REQUIRE_CRIU") == "1" {
			t.Fatal(criuSkip)
		}
		t.Skip(criuSkip)
	}
	return criuBinary
}

func findCRIU() (path, skip string) {
	path = os.Getenv("CRIU")
	if path == "" {
		p, err := exec.LookPath("criu")
		if err != nil {
			return "", "no CRIU >= 3.18 here: set CRIU=PATH (make test-criu CRIU=PATH) to run the real-CRIU tests"
		}
		path = p
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	m := regexp.MustCompile(`Version: (\d+)\.(\d+)`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		return "", fmt.Sprintf("CRIU at %s does not run (%v): set CRIU=PATH to a criu >= 3.18", path, err)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 3 || (major == 3 && minor < 18) {
		return "", fmt.Sprintf("CRIU %s.%s at %s has no --unprivileged: set CRIU=PATH to a criu >= 3.18", m[1], m[2], path)
	}
	return path, ""
}

// addCRIU puts criu at /bin/criu in rootfs, with the shared libraries
// ldd lists at their own paths, and the dump and restore scripts.
func addCRIU(t *testing.T, rootfs, criu string) {
	t.Helper()
	copyFile(t, criu, filepath.Join(rootfs, "bin", "criu"), 0o755)
	out, err := exec.Command("ldd", criu).Output()
	if err == nil {
		for _, lib := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(string(out), -1) {
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(rootfs, lib)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			copyFile(t, real, dst, 0o755)
		}
	}
	for _, a := range []string{"setsid", "mkdir", "sed"} {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
	}
	for name, text := range map[string]string{"criu-dump": criuDumpScript, "criu-restore": criuRestoreScript} {
		if err := os.WriteFile(filepath.Join(rootfs, "bin", name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "ckpt"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// criuDumpScript runs the app and dumps it, as a user would: the app is
// its own session (setsid) with no terminal, counting into
// /ckpt/counter; the PID allocator is moved on first, so the app's PIDs
// are not the few a fresh restore container uses for itself. With the
// argument drop-caps the app starts through crhook drop-caps and holds no
// capability, while criu holds the container's profile. $APP, when set,
// is the app's command line instead of a shell loop (a JVM, say), and
// $CRIU_DUMP_ARGS go to criu dump (--page-server, say).
const criuDumpScript = `#!/bin/sh
d=/ckpt
prefix=
[ "$1" = drop-caps ] && prefix="crhook drop-caps --"
i=0; while [ $i -lt 150 ]; do ( : ); i=$((i+1)); done
if [ -n "${APP:-}" ]; then
	setsid $prefix $APP </dev/null >$d/app.log 2>&1 &
else
	setsid $prefix sh -c 'i=0; while :; do i=$((i+1)); echo $i > /ckpt/counter; sleep 0.1; done' </dev/null >/dev/null 2>&1 &
fi
app=$!
n=0; while [ ! -s $d/counter ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done
echo "app=$app"
criu dump --unprivileged -t $app -D $d -o dump.log -v4 ${CRIU_DUMP_ARGS:-}
echo "dump=$?"
`

// criuRestoreScript runs the preflight, then criu restore, and reports
// whether the app came back at its PID, with which thread IDs, and
// whether it went on counting.
const criuRestoreScript = `#!/bin/sh
d=/ckpt
rm -f $d/restore.log $d/restore.out
crhook verify --images $d --json
echo "preflight=$?"
criu restore --unprivileged -D $d -d -o restore.log -v4 ${CRIU_RESTORE_ARGS:-} >$d/restore.out 2>&1
echo "restore=$?"
app=$1
if [ -d /proc/$app ]; then
	for task in /proc/$app/task/*; do echo "task=${task##*/}"; done
	c1=$(cat $d/counter); c2=$c1; n=0
	while [ "$c2" = "$c1" ] && [ $n -lt 50 ]; do sleep 0.1; c2=$(cat $d/counter); n=$((n+1)); done
	echo "alive=$app counter=$c1,$c2 capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$app/status)"
fi
`

// dumpResult is what criu-dump printed.
type dumpResult struct {
	App  int
	Code int
}

func parseDump(t *testing.T, r result) dumpResult {
	t.Helper()
	var d dumpResult
	d.App, _ = strconv.Atoi(field(r.Stdout, "app"))
	code, err := strconv.Atoi(field(r.Stdout, "dump"))
	if d.App == 0 || err != nil {
		t.Fatalf("criu-dump did not run: %s", r)
	}
	d.Code = code
	return d
}

// restoreResult is what criu-restore printed.
type restoreResult struct {
	Preflight    int
	Report       verify.Report
	Restore      int
	Alive        bool
	Before, Then int
	// CapEff is the restored app's effective set, as /proc shows it.
	CapEff string
	// Tasks are the restored app's thread IDs, right after the restore.
	Tasks []int
}

func parseRestore(t *testing.T, r result) restoreResult {
	t.Helper()
	var rr restoreResult
	var err error
	if rr.Preflight, err = strconv.Atoi(field(r.Stdout, "preflight")); err != nil {
		t.Fatalf("criu-restore did not run: %s", r)
	}
	if rr.Restore, err = strconv.Atoi(field(r.Stdout, "restore")); err != nil {
		t.Fatalf("criu-restore did not get to criu: %s", r)
	}
	start := strings.Index(r.Stdout, "{")
	end := strings.Index(r.Stdout, "\npreflight=")
	if start < 0 || end < start || json.Unmarshal([]byte(r.Stdout[start:end]), &rr.Report) != nil {
		t.Fatalf("no preflight report: %s", r)
	}
	if counter := field(r.Stdout, "counter"); counter != "" {
		rr.Alive = true
		before, then, _ := strings.Cut(counter, ",")
		rr.Before, _ = strconv.Atoi(before)
		rr.Then, _ = strconv.Atoi(then)
		rr.CapEff = field(r.Stdout, "capeff")
	}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if id, ok := strings.CutPrefix(line, "task="); ok {
			n, err := strconv.Atoi(id)
			if err != nil {
				t.Fatalf("criu-restore listed task %q", id)
			}
			rr.Tasks = append(rr.Tasks, n)
		}
	}
	return rr
}

// field returns the value of the first "key=value" word on its own.
func field(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		for _, word := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(word, key+"="); ok {
				return v
			}
		}
	}
	return ""
}

// imagesDir is the volume both containers mount at /ckpt, owned by the
// container user.
func imagesDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	return dir
}

// criuLog returns what CRIU wrote for a run: its log file in the images
// directory, and for a restore also what it printed (restore.out), where
// it reports what stops it before the log is open.
func criuLog(t *testing.T, dir, name string) string {
	t.Helper()
	var text string
	names := []string{name}
	if name == "restore.log" {
		names = append(names, "restore.out")
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			text += "(no " + n + ": " + err.Error() + ")\n"
			continue
		}
		text += string(data)
	}
	return text
}

// assertRestored checks a restore that must work: the preflight said so,
// criu restored through clone3, and the app is back at its PID, counting.
func assertRestored(t *testing.T, rr restoreResult, dump dumpResult, dir string) {
	t.Helper()
	if rr.Preflight != 0 || rr.Restore != 0 {
		t.Fatalf("preflight %d, restore %d, want 0 and 0; preflight: %s\nrestore.log:\n%s", rr.Preflight, rr.Restore, rr.Report.Summary, tail(criuLog(t, dir, "restore.log"), 3000))
	}
	if !rr.Alive || rr.Then <= rr.Before {
		t.Fatalf("the app is not back at pid %d or does not go on: alive %v, counter %d then %d", dump.App, rr.Alive, rr.Before, rr.Then)
	}
	if log := criuLog(t, dir, "restore.log"); !strings.Contains(log, "Creating process using clone3()") {
		t.Errorf("criu did not restore through clone3:\n%s", tail(log, 2000))
	}
}

// assertRefused checks a restore that must fail: the preflight said so
// first (naming want), and criu then failed with criuSays in its log.
func assertRefused(t *testing.T, rr restoreResult, dir, want, criuSays string) {
	t.Helper()
	if rr.Preflight != 1 || !strings.Contains(rr.Report.Summary, want) {
		t.Errorf("preflight %d (%s), want 1 naming %q", rr.Preflight, rr.Report.Summary, want)
	}
	if rr.Restore == 0 {
		t.Fatalf("criu restore worked where the preflight refused: %s", rr.Report.Summary)
	}
	if log := criuLog(t, dir, "restore.log"); !strings.Contains(log, criuSays) {
		t.Errorf("criu's log does not say %q:\n%s", criuSays, tail(log, 2000))
	}
}

// dockerSeccomp is Docker's default seccomp profile for the spec, which
// returns ENOSYS for clone3 to a container without CAP_SYS_ADMIN.
func dockerSeccomp(t *testing.T, s *specs.Spec) *specs.LinuxSeccomp {
	t.Helper()
	profile, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		t.Fatal(err)
	}
	return profile
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// dockerProfileFile writes Docker's default seccomp profile, in the form
// podman --security-opt seccomp=FILE takes, and returns its path.
func dockerProfileFile(t *testing.T) string {
	t.Helper()
	data, err := json.Marshal(seccomp.DefaultProfile())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "docker-seccomp.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
