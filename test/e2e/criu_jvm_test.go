package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/crit"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// requireJVM returns the home of Debian's OpenJDK 17 (a HotSpot JVM),
// which make test-criu installs; without it the JVM tests skip, or fail
// under CRHOOK_REQUIRE_CRIU=1.
func requireJVM(t *testing.T) string {
	t.Helper()
	homes, _ := filepath.Glob("/usr/lib/jvm/java-17-openjdk-*")
	for _, home := range homes {
		if _, err := os.Stat(filepath.Join(home, "bin", "javac")); err == nil {
			return home
		}
	}
	msg := "no Debian OpenJDK 17 JDK here: make test-criu installs it (apt-get install openjdk-17-jdk-headless)"
	if os.Getenv("CRHOOK_REQUIRE_CRIU") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// jvmBundle is criuBundle with a HotSpot JVM to run: the host's /usr/lib
// (the JDK and the libraries it links) and the JDK's /etc configuration
// read-only, Counter compiled into /app, uid 1000 named app in
// /etc/passwd (HotSpot names its /tmp/hsperfdata_USER directory after
// it) and a /tmp anyone can write.
func jvmBundle(t *testing.T, criu, images, classes string, args ...string) bundle {
	t.Helper()
	b := criuBundle(t, criu, images, args...)
	rootfs := filepath.Join(b.Dir, "rootfs")
	for _, dir := range []string{"usr/lib", "etc/java-17-openjdk", "app"} {
		mustDo(t, os.MkdirAll(filepath.Join(rootfs, dir), 0o755))
	}
	copyFile(t, filepath.Join(classes, "Counter.class"), filepath.Join(rootfs, "app", "Counter.class"), 0o644)
	mustDo(t, os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte("root:x:0:0::/:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n"), 0o644))
	mustDo(t, os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777))
	b.Edit(t, func(s *specs.Spec) {
		for _, dir := range []string{"/usr/lib", "/etc/java-17-openjdk"} {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dir, Type: "bind", Source: dir, Options: []string{"rbind", "ro"}})
		}
	})
	return b
}

// compileCounter builds testdata/Counter.java with the JDK's javac.
func compileCounter(t *testing.T, jdk string) string {
	t.Helper()
	out := t.TempDir()
	if b, err := exec.Command(filepath.Join(jdk, "bin", "javac"), "-d", out, filepath.Join("testdata", "Counter.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v: %s", err, b)
	}
	return out
}

// dumpedTasks are the thread IDs of pstree.img, read with go-criu's crit.
func dumpedTasks(t *testing.T, images string) []int {
	t.Helper()
	f, err := os.Open(filepath.Join(images, "pstree.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := crit.New(f, nil, "", false, false).Decode(&pstree.PstreeEntry{})
	if err != nil {
		t.Fatalf("decode pstree.img: %v", err)
	}
	var ids []int
	for _, e := range img.Entries {
		for _, tid := range e.Message.(*pstree.PstreeEntry).GetThreads() {
			ids = append(ids, int(tid))
		}
	}
	slices.Sort(ids)
	return ids
}

// TestCRIUJVM: a HotSpot JVM (Debian's OpenJDK 17), dumped by uid 1000 in
// a hardened runc container under minimal, restores in a fresh one under
// Docker's default seccomp profile with its PID and every thread ID, and
// goes on counting. Without -XX:-UsePerfData the JVM keeps
// /tmp/hsperfdata_app/PID mapped, a file the new container lacks: the
// preflight names it, and criu fails on it.
func TestCRIUJVM(t *testing.T) {
	criu := requireCRIU(t)
	jdk := requireJVM(t)
	classes := compileCounter(t, jdk)
	configPath, _ := writeConfig(t, "")
	for _, tc := range []struct {
		name, flags string
		perfData    bool
	}{
		{name: "-XX:-UsePerfData restores", flags: "-XX:-UsePerfData"},
		{name: "perf data on: the preflight names its file", perfData: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			images := imagesDir(t)
			java := []string{filepath.Join(jdk, "bin", "java"), tc.flags, "-Xmx64m", "-XX:+UseSerialGC", "-cp", "/app", "Counter", "/ckpt/counter"}
			b := jvmBundle(t, criu, images, classes, "/bin/criu-dump")
			b.Edit(t, func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "APP="+strings.Join(java, " ")) })
			grantByPatch(configPath, "minimal")(t, b)
			d := parseDump(t, runcRun(t, b))
			if d.Code != 0 {
				t.Fatalf("criu dump of the JVM failed (%d):\n%s\napp.log: %s", d.Code, tail(criuLog(t, images, "dump.log"), 3000), criuLog(t, images, "app.log"))
			}
			tasks := dumpedTasks(t, images)
			t.Logf("dumped JVM: pid %d, %d threads", d.App, len(tasks))

			rb := jvmBundle(t, criu, images, classes, "/bin/criu-restore", strconv.Itoa(d.App))
			rb.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerSeccomp(t, s) })
			grantByPatch(configPath, "minimal")(t, rb)
			rr := parseRestore(t, runcRun(t, rb))
			t.Logf("preflight: %s", rr.Report.Summary)
			if tc.perfData {
				file := "/tmp/hsperfdata_app/" + strconv.Itoa(d.App)
				assertRefused(t, rr, images, "file \""+file+"\", which the dumped tree had open, is missing here", "hsperfdata_app/"+strconv.Itoa(d.App))
				for _, l := range strings.Split(criuLog(t, images, "restore.log"), "\n") {
					if strings.Contains(l, "Error") {
						t.Logf("criu: %s", l)
					}
				}
				return
			}
			assertRestored(t, rr, d, images)
			slices.Sort(rr.Tasks)
			if !slices.Equal(rr.Tasks, tasks) {
				t.Errorf("restored JVM threads %v, dumped %v", rr.Tasks, tasks)
			}
		})
	}
}
