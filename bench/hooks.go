package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuncVersion is the first line of `runc --version`, without "runc
// version", or "" when runc cannot say.
func RuncVersion() string {
	out, err := exec.Command("runc", "--version").Output()
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(first), "runc version ")
}

// hookVariant is one bundle of figure 1. All three share one rootfs and
// one spec; only their hooks differ.
type hookVariant struct {
	name   string
	bundle string
}

const (
	variantPlain = iota
	variantNoop
	variantCrhook
)

// HookOverhead is figure 1: the wall time of `runc run` of a short
// container without hooks, with a no-op static hook at createRuntime and
// poststart (the floor), and with the hooks `crhook patch` registers.
func HookOverhead(c Config) (Figure, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return Figure{}, fmt.Errorf("runc is not installed (apt-get install runc): %w", err)
	}
	variants, logPath, configPath, err := makeHookBundles(c, runc)
	if err != nil {
		return Figure{}, err
	}
	root := filepath.Join(c.Dir, "runc-root")
	for _, v := range variants {
		if _, err := runcRun(runc, root, v.bundle); err != nil {
			return Figure{}, fmt.Errorf("warm-up, %s: %w", v.name, err)
		}
	}
	walls := make([][]time.Duration, len(variants))
	for pair := range c.Pairs {
		for _, i := range order(pair, len(variants)) {
			d, err := runcRun(runc, root, variants[i].bundle)
			if err != nil {
				return Figure{}, fmt.Errorf("%s: %w", variants[i].name, err)
			}
			walls[i] = append(walls[i], d)
		}
	}
	c.logf("hooks: %d rounds done", c.Pairs)
	notes, err := hookLogNotes(logPath, c.Pairs+1)
	if err != nil {
		return Figure{}, err
	}
	// After the log is counted: these runs log too.
	alone, err := hookProcesses(c, variants[variantCrhook].bundle, configPath)
	if err != nil {
		return Figure{}, err
	}
	return hookFigure(c, walls, alone, notes), nil
}

// hookProcesses times the createRuntime hook as a process on its own,
// crhook-hook against the no-op hook, in interleaved pairs: runc's own
// start varies by more than a hook costs, so this is the precise view
// of what crhook's hook adds. poststart is left out: it checks a live
// container's /proc and fails on any other process.
func hookProcesses(c Config, bundle, configPath string) ([2][]float64, error) {
	var walls [2][]float64
	s, err := readSpec(bundle)
	if err != nil {
		return walls, err
	}
	state, err := json.Marshal(specs.State{Version: s.Version, ID: "crhook-bench", Status: specs.StateCreating,
		Pid: os.Getpid(), Bundle: bundle, Annotations: s.Annotations})
	if err != nil {
		return walls, fmt.Errorf("encode state: %w", err)
	}
	statePath := filepath.Join(c.Dir, "state.json")
	if err := os.WriteFile(statePath, state, 0o644); err != nil {
		return walls, fmt.Errorf("write state: %w", err)
	}
	runs := [2][]string{{c.Bin.Hook, "createRuntime", "--config", configPath}, {c.Bin.NoopHook}}
	for pair := -1; pair < c.Pairs; pair++ {
		for _, i := range order(max(pair, 0), 2) {
			ps, err := proctime(c.Bin.Proctime, statePath, runs[i])
			if err != nil {
				return walls, fmt.Errorf("hook process %s: %w", runs[i][0], err)
			}
			if pair >= 0 { // pair -1 warms up
				walls[i] = append(walls[i], float64(ps.WallNanos)/float64(time.Millisecond))
			}
		}
	}
	return walls, nil
}

func hookFigure(c Config, walls [][]time.Duration, alone [2][]float64, notes []string) Figure {
	plain, noop, crhook := millis(walls[variantPlain]), millis(walls[variantNoop]), millis(walls[variantCrhook])
	return Figure{
		Title: "1. Hook overhead on container start",
		Setup: fmt.Sprintf("runc run of `true` (busybox rootfs, uid 1000, noNewPrivileges), %d rounds of 3 runs, order reversed every other round", c.Pairs),
		Rows: []Row{
			info("wall, no hooks", median(plain), "ms"),
			info("wall, no-op static hook (floor)", median(noop), "ms"),
			info("wall, crhook hooks", median(crhook), "ms"),
			checkedMedian("crhook / no hooks", ratios(crhook, plain), "x", atMost(1.10)),
			checkedMedian("crhook / no-op floor", ratios(crhook, noop), "x", atMost(1.30)),
			medianRow("no-op floor / no hooks", ratios(noop, plain), "x"),
			medianRow("added by crhook's 2 hooks", differences(crhook, plain), "ms"),
			medianRow("added by 2 no-op hooks", differences(noop, plain), "ms"),
			info("createRuntime process alone, crhook-hook", median(alone[0]), "ms"),
			info("createRuntime process alone, no-op hook", median(alone[1]), "ms"),
			medianRow("createRuntime process alone: crhook / no-op", ratios(alone[0], alone[1]), "x"),
			medianRow("createRuntime process alone: crhook above no-op", differences(alone[0], alone[1]), "ms"),
		},
		Notes: notes,
	}
}

// makeHookBundles writes the three bundles of figure 1 and returns them
// with crhook's log file and config. The crhook bundle is opted in by
// `crhook patch`; the other two are its spec with the hooks removed or
// replaced by the no-op hook.
func makeHookBundles(c Config, runc string) (variants []hookVariant, logPath, configPath string, err error) {
	rootfs := filepath.Join(c.Dir, "rootfs")
	if err := makeRootfs(rootfs); err != nil {
		return nil, "", "", err
	}
	if configPath, logPath, err = writeCrhookConfig(c.Dir); err != nil {
		return nil, "", "", err
	}
	s, err := patchedSpec(c, runc, rootfs, configPath)
	if err != nil {
		return nil, "", "", err
	}
	crhookHooks := s.Hooks
	noop := noopHooks(c.Bin.NoopHook, crhookHooks)
	variants = []hookVariant{
		{name: "no hooks", bundle: filepath.Join(c.Dir, "bundle-plain")},
		{name: "no-op hooks", bundle: filepath.Join(c.Dir, "bundle-noop")},
		{name: "crhook hooks", bundle: filepath.Join(c.Dir, "bundle-crhook")},
	}
	for i, hooks := range []*specs.Hooks{nil, noop, crhookHooks} {
		s.Hooks = hooks
		if err := writeSpec(variants[i].bundle, s); err != nil {
			return nil, "", "", err
		}
	}
	return variants, logPath, configPath, nil
}

// patchedSpec makes a bundle with `runc spec`, sets it up for a short
// hardened run and opts it in with `crhook patch`, then returns its spec.
func patchedSpec(c Config, runc, rootfs, configPath string) (*specs.Spec, error) {
	dir := filepath.Join(c.Dir, "bundle-crhook")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create bundle: %w", err)
	}
	if err := runIn(dir, runc, "spec"); err != nil {
		return nil, err
	}
	s, err := readSpec(dir)
	if err != nil {
		return nil, err
	}
	s.Process.Terminal = false
	s.Process.Args = []string{"true"}
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.NoNewPrivileges = true
	s.Root.Path = rootfs
	s.Hostname = "crhook-bench"
	if err := writeSpec(dir, s); err != nil {
		return nil, err
	}
	if err := runIn(dir, c.Bin.Crhook, "patch", "--bundle", dir, "--config", configPath); err != nil {
		return nil, err
	}
	if s, err = readSpec(dir); err != nil {
		return nil, err
	}
	if s.Hooks == nil || len(s.Hooks.CreateRuntime) == 0 || len(s.Hooks.Poststart) == 0 {
		return nil, errors.New("crhook patch registered no createRuntime and poststart hooks")
	}
	return s, nil
}

// noopHooks puts the no-op hook where crhook's hooks are, with the same
// timeout.
func noopHooks(path string, like *specs.Hooks) *specs.Hooks {
	h := specs.Hook{Path: path, Args: []string{"noop-hook"}, Timeout: like.CreateRuntime[0].Timeout}
	return &specs.Hooks{CreateRuntime: []specs.Hook{h}, Poststart: []specs.Hook{h}}
}

// busyboxApplets are the rootfs's commands; the container runs `true`.
var busyboxApplets = []string{"true", "sh"}

// makeRootfs fills dir with busybox-static and the applets it needs.
func makeRootfs(dir string) error {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox is not installed (apt-get install busybox-static): %w", err)
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create rootfs: %w", err)
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return fmt.Errorf("copy busybox: %w", err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return fmt.Errorf("link %s: %w", a, err)
		}
	}
	return nil
}

// writeCrhookConfig writes an admin config that logs to the scratch
// directory, so crhook does all its work without touching /var/log.
func writeCrhookConfig(dir string) (configPath, logPath string, err error) {
	logPath = filepath.Join(dir, "crhook.log")
	configPath = filepath.Join(dir, "crhook.toml")
	text := fmt.Sprintf("log_file = %q\n", logPath)
	if err := os.WriteFile(configPath, []byte(text), 0o644); err != nil {
		return "", "", fmt.Errorf("write crhook config: %w", err)
	}
	return configPath, logPath, nil
}

func readSpec(bundle string) (*specs.Spec, error) {
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("parse %s/config.json: %w", bundle, err)
	}
	return &s, nil
}

func writeSpec(bundle string, s *specs.Spec) error {
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return fmt.Errorf("create bundle: %w", err)
	}
	raw, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return fmt.Errorf("encode spec: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o644); err != nil {
		return fmt.Errorf("write spec: %w", err)
	}
	return nil
}

// runIn runs a setup command in dir and fails with its output.
func runIn(dir, name string, args ...string) error {
	ctx, cancel := withTimeout()
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runcRun times `runc run` of the bundle to completion, then deletes the
// container whatever happened.
func runcRun(runc, root, bundle string) (time.Duration, error) {
	id := containerID(os.Getpid())
	ctx, cancel := withTimeout()
	defer cancel()
	cmd := exec.CommandContext(ctx, runc, "--root", root, "run", "--bundle", bundle, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	// run removes the container itself; delete covers a failed run.
	_ = exec.Command(runc, "--root", root, "delete", "--force", id).Run()
	if err != nil {
		return 0, fmt.Errorf("runc run %s: %w: %s", id, err, strings.TrimSpace(out.String()))
	}
	return took, nil
}

// hookLogNotes counts crhook's log lines by stage and result, so a
// reader knows that every timed start ran both hooks to the end ("ok"
// means every check ran and passed). A hook that refused would have
// failed its run already.
func hookLogNotes(logPath string, runs int) ([]string, error) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil, fmt.Errorf("read crhook log: %w", err)
	}
	counts := map[string]map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l struct {
			Stage  string `json:"stage"`
			Result string `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			return nil, fmt.Errorf("crhook log line %q: %w", line, err)
		}
		if counts[l.Stage] == nil {
			counts[l.Stage] = map[string]int{}
		}
		counts[l.Stage][l.Result]++
	}
	var parts []string
	for _, stage := range []string{"createRuntime", "poststart"} {
		if counts[stage]["ok"] != runs {
			parts = append(parts, fmt.Sprintf("%s %v (want ok %d times)", stage, counts[stage], runs))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s ok %d times", stage, runs))
	}
	return []string{"crhook's log for the runs with its hooks: " + strings.Join(parts, ", ")}, nil
}
