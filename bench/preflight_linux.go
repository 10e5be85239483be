package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// preflightDump is one dump figure 5 times the preflight on.
type preflightDump struct {
	name string
	dir  string
	// processes counts the dumped tasks; 0 for a JVM, whose size is its
	// threads.
	processes int
	// pids are the dumped tasks', killed after each restore.
	pids []int
	// target bounds preflight / restore, when set.
	target *Target
}

// Preflight is figure 5: `crhook verify --images`, the restore
// preflight, as a whole process, on the repository's 2-process dump
// against crhook's own start-up; and, given a CRIU, on dumps of 10, 50
// and 200 processes and of a HotSpot JVM, against `criu restore` of the
// same images.
func Preflight(c Config) (Figure, error) {
	small := filepath.Join(c.Checkout, "internal", "criuimage", "testdata", "minimal-nnp")
	// The repository's dump was taken elsewhere: its PIDs may be taken
	// here, which the preflight reports with exit 1 after all its work.
	preflight := []string{"-ok-exit", "1", os.DevNull, c.Bin.Crhook, "verify", "--images", small}
	var walls [2][]float64
	for pair := -1; pair < c.Pairs; pair++ {
		for _, i := range order(max(pair, 0), 2) {
			argv := [][]string{preflight, {os.DevNull, c.Bin.Crhook, "version"}}[i]
			s, err := proctimeArgs(c.Bin.Proctime, argv)
			if err != nil {
				return Figure{}, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
			}
			if pair >= 0 {
				walls[i] = append(walls[i], float64(s.WallNanos)/float64(time.Millisecond))
			}
		}
	}
	rows := []Row{
		checkedMedian("2 processes (the repository's dump): preflight", walls[0], "ms", atMost(10)),
		medianRow("crhook version (start-up alone)", walls[1], "ms"),
		medianRow("2 processes: preflight above start-up", differences(walls[0], walls[1]), "ms"),
	}
	notes := []string{"the preflight is the whole process, `crhook verify --images DIR`, from start to exit (proctime), stdout to /dev/null"}
	if c.CRIU == "" {
		notes = append(notes, "no CRIU given (make bench CRIU=PATH, a criu >= 3.18): the rows against criu restore, on 10, 50 and 200 processes and a JVM, were not run")
	} else {
		more, moreNotes, err := preflightAgainstCRIU(c)
		if err != nil {
			return Figure{}, err
		}
		rows, notes = append(rows, more...), append(notes, moreNotes...)
	}
	return Figure{
		Title: "5. The restore preflight: crhook verify --images",
		Setup: fmt.Sprintf("%d interleaved pairs; against CRIU each pair runs the preflight on every dump, then criu restore of each, as a user runs them", c.Pairs),
		Rows:  rows,
		Notes: notes,
	}, nil
}

// preflightAgainstCRIU dumps trees of 10, 50 and 200 processes and a
// JVM with root's criu, then times the preflight and criu restore of
// each, pair by pair.
func preflightAgainstCRIU(c Config) ([]Row, []string, error) {
	// Restored trees are orphans once criu detaches: they come back to
	// this process, which reaps them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, nil, fmt.Errorf("become a subreaper: %w", err)
	}
	var dumps []preflightDump
	for _, n := range []int{10, 50, 200} {
		d, err := dumpTree(c, n)
		if err != nil {
			return nil, nil, err
		}
		if n == 50 {
			d.target = &Target{}
			*d.target = atMost(0.10)
		}
		dumps = append(dumps, d)
	}
	var notes []string
	jvm, err := dumpJVM(c)
	switch {
	case errors.Is(err, errNoJVM):
		notes = append(notes, err.Error())
	case err != nil:
		return nil, nil, err
	default:
		jvm.target = &Target{}
		*jvm.target = atMost(0.10)
		dumps = append(dumps, jvm)
	}
	pre, restore, err := timeRestores(c, dumps)
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	for i, d := range dumps {
		rows = append(rows, medianRow(d.name+": criu restore", restore[i], "ms"), medianRow(d.name+": preflight", pre[i], "ms"))
		share := ratios(pre[i], restore[i])
		if d.target != nil {
			rows = append(rows, checkedMedian(d.name+": preflight / criu restore", share, "x", *d.target))
		} else {
			rows = append(rows, medianRow(d.name+": preflight / criu restore", share, "x"))
		}
	}
	// The trees are dumps 0, 1 and 2: 10, 50 and 200 processes. A slope
	// is taken pair by pair, where the preflights ran close together.
	slope := func(a, b int) []float64 {
		out := differences(pre[b], pre[a])
		for k := range out {
			out[k] /= float64(dumps[b].processes-dumps[a].processes) / 1000
		}
		return out
	}
	small, large := slope(0, 1), slope(1, 2)
	rows = append(rows, medianRow("preflight per process, 10 to 50", small, "us"), medianRow("preflight per process, 50 to 200", large, "us"))
	linearity := checked("linearity: per process 50 to 200 / 10 to 50", median(large)/median(small), "x", atMost(1.5))
	if median(small) <= 0 {
		// The 40 processes' cost was lost in this run's noise: no ratio
		// can be judged from it.
		linearity = checked("linearity: per process 50 to 200 / 10 to 50 (not measurable: the 10-to-50 cost is not above zero)", 0, "x", Target{Text: "<= 1.500", ok: func(float64) bool { return false }})
	}
	rows = append(rows, linearity)
	notes = append(notes,
		"dumps: root's criu "+criuVersion(c.CRIU)+" dumps a tree (sh and its sleep children, or the JVM) in this PID namespace; each pair runs the preflight on every dump while their PIDs are free, in an order reversed every other pair, then `criu restore -d` of each, killing and reaping each restored tree before the next",
		"per process: the change of the preflight over the change of the tree's size, pair by pair")
	return rows, notes, nil
}

// errNoJVM: the JVM rows need Debian's OpenJDK 17 JDK.
var errNoJVM = errors.New("no OpenJDK 17 JDK (apt-get install openjdk-17-jdk-headless): the JVM rows were not run")

// dumpTree starts sh with n-1 sleeping children as its own session and
// dumps it with criu.
func dumpTree(c Config, n int) (preflightDump, error) {
	script := fmt.Sprintf("i=1; while [ $i -lt %d ]; do sleep 1000 & i=$((i+1)); done; wait", n)
	d := preflightDump{name: fmt.Sprintf("%d processes", n), processes: n}
	err := dumpProcess(c, &d, func(pid int) bool { return len(children(pid)) == n-1 }, "sh", "-c", script)
	return d, err
}

// dumpJVM starts a HotSpot JVM running testdata/Counter.java and dumps it.
func dumpJVM(c Config) (preflightDump, error) {
	homes, _ := filepath.Glob("/usr/lib/jvm/java-17-openjdk-*")
	jdk := ""
	for _, h := range homes {
		if _, err := os.Stat(filepath.Join(h, "bin", "javac")); err == nil {
			jdk = h
		}
	}
	if jdk == "" {
		return preflightDump{}, errNoJVM
	}
	classes := filepath.Join(c.Dir, "preflight", "classes")
	if err := runIn(c.Checkout, filepath.Join(jdk, "bin", "javac"), "-d", classes, filepath.Join("test", "e2e", "testdata", "Counter.java")); err != nil {
		return preflightDump{}, err
	}
	counter := filepath.Join(c.Dir, "preflight", "counter")
	d := preflightDump{name: "HotSpot JVM (OpenJDK 17, -XX:-UsePerfData)"}
	err := dumpProcess(c, &d, func(int) bool {
		st, err := os.Stat(counter)
		return err == nil && st.Size() > 0
	}, filepath.Join(jdk, "bin", "java"), "-XX:-UsePerfData", "-Xmx64m", "-XX:+UseSerialGC", "-cp", classes, "Counter", counter)
	return d, err
}

// dumpProcess runs argv as its own session, waits until ready, and
// dumps its tree into a new directory with criu (which kills it).
func dumpProcess(c Config, d *preflightDump, ready func(pid int) bool, argv ...string) error {
	d.dir = filepath.Join(c.Dir, "preflight", strings.NewReplacer(" ", "-", "(", "", ")", "", ",", "").Replace(d.name))
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.name, err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	deadline := time.Now().Add(time.Minute)
	for !ready(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not come up in a minute", d.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.pids = append([]int{cmd.Process.Pid}, children(cmd.Process.Pid)...)
	if err := runIn(d.dir, c.CRIU, "dump", "-t", strconv.Itoa(cmd.Process.Pid), "-D", d.dir, "-o", "dump.log"); err != nil {
		return fmt.Errorf("criu dump of %s (see %s/dump.log): %w", d.name, d.dir, err)
	}
	// criu killed the tree; its children came back to this subreaper.
	return killRestored(d.pids)
}

// children are the PIDs of pid's children, from every thread.
func children(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// timeRestores times, pair by pair, the preflight on each dump and
// criu's restore of each: first every preflight, close together so that
// the per-process slopes compare runs of the same moment, then each
// restore, after which its tree is killed and reaped, so its PIDs are
// free for the next pair.
func timeRestores(c Config, dumps []preflightDump) (pre, restore [][]float64, err error) {
	pre, restore = make([][]float64, len(dumps)), make([][]float64, len(dumps))
	ms := func(s procSample) float64 { return float64(s.WallNanos) / float64(time.Millisecond) }
	for pair := -1; pair < c.Pairs; pair++ {
		for _, i := range order(max(pair, 0), len(dumps)) {
			d := dumps[i]
			p, err := proctime(c.Bin.Proctime, os.DevNull, []string{c.Bin.Crhook, "verify", "--images", d.dir})
			if err != nil {
				return nil, nil, fmt.Errorf("preflight on %s: %w", d.name, err)
			}
			if pair >= 0 { // pair -1 warms up
				pre[i] = append(pre[i], ms(p))
			}
		}
		for i, d := range dumps {
			r, err := proctime(c.Bin.Proctime, os.DevNull, []string{c.CRIU, "restore", "-D", d.dir, "-d", "-o", "restore.log"})
			if err != nil {
				return nil, nil, fmt.Errorf("criu restore of %s (see %s/restore.log): %w", d.name, d.dir, err)
			}
			if err := killRestored(d.pids); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", d.name, err)
			}
			if pair >= 0 {
				restore[i] = append(restore[i], ms(r))
			}
		}
	}
	c.logf("preflight: %d dumps, %d pairs done", len(dumps), c.Pairs)
	return pre, restore, nil
}

// killRestored kills the restored tree (its own session, as dumped) and
// reaps it until every one of its PIDs is free.
func killRestored(pids []int) error {
	syscall.Kill(-pids[0], syscall.SIGKILL)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ws unix.WaitStatus
		for {
			if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
		alive := 0
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				alive++
			}
		}
		if alive == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d restored processes still there after 30 s", alive)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// criuVersion is `criu --version`'s version, or "".
func criuVersion(criu string) string {
	out, _ := exec.Command(criu, "--version").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return v
		}
	}
	return ""
}
