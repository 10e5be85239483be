package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const mib = 1 << 20

// specInput is one spec figure 2 feeds to `crhook precreate`.
type specInput struct {
	name string
	path string
	size int
	// mounts and env count the entries added to the typical spec.
	mounts, env int
}

// procSample is one whole-process run, as proctime reports it.
type procSample struct {
	WallNanos   int64 `json:"wall_ns"`
	MaxRSSBytes int64 `json:"max_rss_bytes"`
}

// procRun is one program figure 2 times, with the spec it reads.
type procRun struct {
	argv []string
	in   specInput
}

// Precreate is figure 2: `crhook-hook precreate`, the build engines run,
// as a whole process on the typical spec (TypicalSpec of runcSpec) and
// on specs grown from it to c.SpecMB MiB, interleaved with the floor (a
// static program that reads the spec and writes it back), `crhook
// precreate` (the build with every command) and `crhook-hook version`
// (start-up alone). It reports wall time, peak RSS, and time per MiB,
// to show that the cost grows linearly with the spec.
func Precreate(c Config, runcSpec string) (Figure, error) {
	typical, err := writeTypicalSpec(c, runcSpec)
	if err != nil {
		return Figure{}, err
	}
	inputs, err := makeSpecInputs(c, typical)
	if err != nil {
		return Figure{}, err
	}
	configPath, _, err := writeCrhookConfig(filepath.Join(c.Dir, "precreate"))
	if err != nil {
		return Figure{}, err
	}
	for _, in := range inputs {
		if err := checkPrecreate(c.Bin.Hook, configPath, in); err != nil {
			return Figure{}, err
		}
	}
	if err := checkPrecreate(c.Bin.Crhook, configPath, inputs[0]); err != nil {
		return Figure{}, err
	}
	precreate := func(bin string) []string { return []string{bin, "precreate", "--config", configPath} }
	// The order of runs is the order precreateFigure reads samples in.
	runs := []procRun{
		{argv: []string{c.Bin.CopySpec}, in: inputs[0]},
		{argv: precreate(c.Bin.Hook), in: inputs[0]},
		{argv: precreate(c.Bin.Crhook), in: inputs[0]},
		{argv: []string{c.Bin.Hook, "version"}, in: inputs[0]},
	}
	for _, in := range inputs[1:] {
		runs = append(runs, procRun{argv: precreate(c.Bin.Hook), in: in})
	}
	samples := make([][]procSample, len(runs))
	for pair := -1; pair < c.Pairs; pair++ {
		for _, i := range order(max(pair, 0), len(runs)) {
			s, err := proctime(c.Bin.Proctime, runs[i].in.path, runs[i].argv)
			if err != nil {
				return Figure{}, fmt.Errorf("precreate %s: %w", runs[i].in.name, err)
			}
			if pair >= 0 { // pair -1 warms up
				samples[i] = append(samples[i], s)
			}
		}
	}
	c.logf("precreate: %d rounds done", c.Pairs)
	return precreateFigure(c, inputs, samples), nil
}

// writeTypicalSpec writes TypicalSpec of the runc spec at runcSpec, with
// the Docker profile beside it, to the scratch directory.
func writeTypicalSpec(c Config, runcSpec string) (string, error) {
	base, err := os.ReadFile(runcSpec)
	if err != nil {
		return "", fmt.Errorf("read runc spec: %w", err)
	}
	profile, err := os.ReadFile(filepath.Join(filepath.Dir(runcSpec), "docker-seccomp.json"))
	if err != nil {
		return "", fmt.Errorf("read docker's seccomp profile: %w", err)
	}
	typical, err := TypicalSpec(base, profile)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.Dir, "precreate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create precreate directory: %w", err)
	}
	path := filepath.Join(dir, "typical.json")
	if err := os.WriteFile(path, typical, 0o644); err != nil {
		return "", fmt.Errorf("write typical spec: %w", err)
	}
	return path, nil
}

// makeSpecInputs writes the grown specs to files; the typical one is
// first.
func makeSpecInputs(c Config, typicalSpec string) ([]specInput, error) {
	dir := filepath.Join(c.Dir, "precreate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create precreate directory: %w", err)
	}
	base, err := os.ReadFile(typicalSpec)
	if err != nil {
		return nil, fmt.Errorf("read typical spec: %w", err)
	}
	inputs := []specInput{{name: "typical", path: typicalSpec, size: len(base)}}
	// As long as /srv/crhook-bench/volumes, which earlier runs bound, so the
	// specs keep their number of mounts per MiB.
	sources := filepath.Join(c.Dir, "v")
	made := 0
	for _, mb := range c.SpecMB {
		g, err := growSpec(base, int(mb*mib), sources)
		if err != nil {
			return nil, err
		}
		for ; made < g.mounts; made++ {
			if err := os.MkdirAll(benchSource(sources, made+1), 0o755); err != nil {
				return nil, fmt.Errorf("make bind source: %w", err)
			}
		}
		in := specInput{
			name:   fmt.Sprintf("%g MiB", mb),
			path:   filepath.Join(dir, fmt.Sprintf("spec-%gMiB.json", mb)),
			size:   len(g.raw),
			mounts: g.mounts,
			env:    g.env,
		}
		if err := os.WriteFile(in.path, g.raw, 0o644); err != nil {
			return nil, fmt.Errorf("write grown spec: %w", err)
		}
		inputs = append(inputs, in)
	}
	return inputs, nil
}

// checkPrecreate runs precreate once and checks that it granted the
// capability, so the timed runs do the full adjustment.
func checkPrecreate(crhook, configPath string, in specInput) error {
	f, err := os.Open(in.path)
	if err != nil {
		return fmt.Errorf("open spec: %w", err)
	}
	defer f.Close()
	ctx, cancel := withTimeout()
	defer cancel()
	cmd := exec.CommandContext(ctx, crhook, "precreate", "--config", configPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("precreate %s: %w: %s", in.name, err, strings.TrimSpace(stderr.String()))
	}
	var out struct {
		Process struct {
			Capabilities struct {
				Ambient []string `json:"ambient"`
			} `json:"capabilities"`
		} `json:"process"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return fmt.Errorf("precreate %s printed no spec: %w", in.name, err)
	}
	if !slices.Contains(out.Process.Capabilities.Ambient, "CAP_CHECKPOINT_RESTORE") {
		return fmt.Errorf("precreate %s did not grant CAP_CHECKPOINT_RESTORE; is the spec opted in?", in.name)
	}
	return nil
}

// proctime runs argv under proctime with stdinPath as its stdin and
// returns what proctime measured.
func proctime(proctime, stdinPath string, argv []string) (procSample, error) {
	return proctimeArgs(proctime, append([]string{stdinPath}, argv...))
}

// proctimeArgs runs proctime with its whole command line.
func proctimeArgs(proctime string, args []string) (procSample, error) {
	ctx, cancel := withTimeout()
	defer cancel()
	cmd := exec.CommandContext(ctx, proctime, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return procSample{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var s procSample
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		return procSample{}, fmt.Errorf("parse proctime output: %w", err)
	}
	return s, nil
}

func precreateFigure(c Config, inputs []specInput, samples [][]procSample) Figure {
	walls := make([][]float64, len(samples))
	rss := make([][]float64, len(samples))
	for i, ss := range samples {
		for _, s := range ss {
			walls[i] = append(walls[i], float64(s.WallNanos)/float64(time.Millisecond))
			rss[i] = append(rss[i], float64(s.MaxRSSBytes)/mib)
		}
	}
	// Samples are in the order Precreate runs them: floor, crhook-hook,
	// crhook, start-up, then crhook-hook on each grown spec.
	floor, hook, full, startup := 0, 1, 2, 3
	rows := []Row{
		info("floor (reads the spec, writes it back): wall", median(walls[floor]), "ms"),
		info("floor: peak RSS", median(rss[floor]), "MiB"),
		checkedMedian("crhook-hook precreate, typical: wall / floor", ratios(walls[hook], walls[floor]), "x", atMost(1.5)),
		medianRow("crhook precreate (the build with every command), typical: wall / floor", ratios(walls[full], walls[floor]), "x"),
		medianRow("crhook-hook version (start-up alone): wall / floor", ratios(walls[startup], walls[floor]), "x"),
		info("crhook-hook precreate, typical: wall", median(walls[hook]), "ms"),
		medianRow("crhook-hook precreate, typical: wall above floor", differences(walls[hook], walls[floor]), "ms"),
		checked("crhook-hook precreate, typical: peak RSS", median(rss[hook]), "MiB", below(20)),
	}
	grownWalls := append([][]float64{walls[hook]}, walls[startup+1:]...)
	grownRSS := append([][]float64{rss[hook]}, rss[startup+1:]...)
	grownRows, perMiB := grownSpecRows(inputs, grownWalls, grownRSS)
	rows = append(rows, grownRows...)
	if len(perMiB) > 1 {
		rows = append(rows, checked("linearity: largest / smallest time per MiB", slices.Max(perMiB)/slices.Min(perMiB), "x", atMost(1.5)))
	}
	return Figure{
		Title: "2. precreate, whole process",
		Setup: fmt.Sprintf("start to exit of each program, spec file on stdin, stdout /dev/null, timed by proctime; %d rounds over %d runs, order reversed every other round", c.Pairs, len(samples)),
		Rows:  rows,
		Notes: specNotes(inputs),
	}
}

// grownSpecRows reports each grown spec against the typical one (index
// 0 of walls and rss, crhook-hook on the typical spec) and returns its
// time per MiB above typical.
func grownSpecRows(inputs []specInput, walls, rss [][]float64) ([]Row, []float64) {
	var rows []Row
	var perMiB []float64
	for i := 1; i < len(inputs); i++ {
		in := inputs[i]
		grown := float64(in.size-inputs[0].size) / mib
		marginal := make([]float64, len(walls[i]))
		for r := range walls[i] {
			marginal[r] = (walls[i][r] - walls[0][r]) / grown
		}
		perMiB = append(perMiB, median(marginal))
		rows = append(rows,
			info(in.name+": wall", median(walls[i]), "ms"),
			peakRSSRow(in, median(rss[i])),
			medianRow(in.name+": wall / typical", ratios(walls[i], walls[0]), "x"),
			checkedMedian(in.name+": time per MiB above typical", marginal, "ms/MiB", atMost(20)),
		)
	}
	return rows, perMiB
}

// peakRSSRow is a grown spec's peak RSS, held under 20 MiB up to 4 MiB
// of spec.
func peakRSSRow(in specInput, rss float64) Row {
	if in.size <= 4*mib+mib/2 {
		return checked(in.name+": peak RSS", rss, "MiB", below(20))
	}
	return info(in.name+": peak RSS", rss, "MiB")
}

func specNotes(inputs []specInput) []string {
	notes := []string{fmt.Sprintf("typical = runc's default spec with Docker's default seccomp profile, uid 1000, opted in (%d bytes); the floor is a static Go program that reads it and writes it back, and nothing else", inputs[0].size)}
	for _, in := range inputs[1:] {
		notes = append(notes, fmt.Sprintf("%s = typical + %d bind mounts + %d env entries (%d bytes)", in.name, in.mounts, in.env, in.size))
	}
	return append(notes,
		"each bind's source is a directory of its own that the benchmark makes: crhook resolves every bind source on the host, following links, and grants nothing past one it cannot resolve",
		"time per MiB above typical = (wall - typical wall) / (size - typical size), per round; a linear cost keeps it flat across sizes",
		"peak RSS is the kernel's maxrss of the process; it includes proctime's own small share, which the floor row shows")
}
