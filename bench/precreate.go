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

// Precreate is figure 2: `crhook precreate` as a whole process on the
// typical podman spec and on specs grown to c.SpecMB MiB, interleaved
// with a no-op program reading the typical spec (the floor), with wall
// time, peak RSS, and time per MiB to show that the cost grows linearly
// with the spec.
func Precreate(c Config, typicalSpec string) (Figure, error) {
	inputs, err := makeSpecInputs(c, typicalSpec)
	if err != nil {
		return Figure{}, err
	}
	configPath, _, err := writeCrhookConfig(filepath.Join(c.Dir, "precreate"))
	if err != nil {
		return Figure{}, err
	}
	for _, in := range inputs {
		if err := checkPrecreate(c.Bin.Crhook, configPath, in); err != nil {
			return Figure{}, err
		}
	}
	floorArgv := []string{c.Bin.NoopHook}
	crhookArgv := []string{c.Bin.Crhook, "precreate", "--config", configPath}
	// Run 0 is the floor on the typical spec; run i > 0 is inputs[i-1].
	samples := make([][]procSample, len(inputs)+1)
	for pair := -1; pair < c.Pairs; pair++ {
		for _, i := range order(max(pair, 0), len(samples)) {
			argv, in := crhookArgv, inputs[max(i-1, 0)]
			if i == 0 {
				argv = floorArgv
			}
			s, err := proctime(c.Bin.Proctime, in.path, argv)
			if err != nil {
				return Figure{}, fmt.Errorf("precreate %s: %w", in.name, err)
			}
			if pair >= 0 { // pair -1 warms up
				samples[i] = append(samples[i], s)
			}
		}
	}
	c.logf("precreate: %d rounds done", c.Pairs)
	return precreateFigure(c, inputs, samples), nil
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
	for _, mb := range c.SpecMB {
		g, err := growSpec(base, int(mb*mib))
		if err != nil {
			return nil, err
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
	ctx, cancel := withTimeout()
	defer cancel()
	cmd := exec.CommandContext(ctx, proctime, append([]string{stdinPath}, argv...)...)
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
	rows := []Row{
		info("no-op program (floor): wall", median(walls[0]), "ms"),
		info("no-op program (floor): peak RSS", median(rss[0]), "MiB"),
		checked("typical: wall", median(walls[1]), "ms", below(5)),
		checked("typical: peak RSS", median(rss[1]), "MiB", below(20)),
		medianRow("typical: wall above floor", differences(walls[1], walls[0]), "ms"),
		medianRow("typical: wall / floor", ratios(walls[1], walls[0]), "x"),
	}
	grownRows, perMiB := grownSpecRows(inputs, walls[1:], rss[1:])
	rows = append(rows, grownRows...)
	if len(perMiB) > 1 {
		rows = append(rows, checked("linearity: largest / smallest time per MiB", slices.Max(perMiB)/slices.Min(perMiB), "x", atMost(1.5)))
	}
	return Figure{
		Title: "2. crhook precreate, whole process",
		Setup: fmt.Sprintf("start to exit of `crhook precreate`, spec file on stdin, stdout /dev/null, timed by proctime; %d rounds over %d runs, order reversed every other round", c.Pairs, len(samples)),
		Rows:  rows,
		Notes: specNotes(inputs),
	}
}

// grownSpecRows reports each grown spec against the typical one (index
// 0 of walls and rss) and returns its time per MiB above typical.
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
			info(in.name+": peak RSS", median(rss[i]), "MiB"),
			medianRow(in.name+": wall / typical", ratios(walls[i], walls[0]), "x"),
			medianRow(in.name+": time per MiB above typical", marginal, "ms/MiB"),
		)
	}
	return rows, perMiB
}

func specNotes(inputs []specInput) []string {
	notes := []string{fmt.Sprintf("typical = %s (%d bytes, a real podman spec, opted in); the floor is a static no-op program reading it", filepath.Base(inputs[0].path), inputs[0].size)}
	for _, in := range inputs[1:] {
		notes = append(notes, fmt.Sprintf("%s = typical + %d bind mounts + %d env entries (%d bytes)", in.name, in.mounts, in.env, in.size))
	}
	return append(notes,
		"time per MiB above typical = (wall - typical wall) / (size - typical size), per round; a linear cost keeps it flat across sizes",
		"peak RSS is the kernel's maxrss of the process; it includes proctime's own small share, which the floor row shows")
}
