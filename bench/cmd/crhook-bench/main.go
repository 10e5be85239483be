// Command crhook-bench runs crhook's benchmark suite (`make bench`): hook
// overhead on container start, `crhook precreate` on typical and very
// large specs, and PID placement with clone3 set_tid against PID cycling.
// It prints a table and writes it, with a JSON copy, to a file. It exits
// non-zero only on real errors, never because a target was missed. It
// needs root, runc and busybox-static, and must run from the crhook
// checkout (it builds crhook from it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/bench"
	"github.com/crhook/crhook/bench/cycle"
	"github.com/crhook/crhook/internal/probe"
)

func main() {
	if code, ok := internal(os.Args[1:]); ok {
		os.Exit(code)
	}
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crhook-bench: %v\n", err)
		os.Exit(1)
	}
}

// internal runs the modes the suite re-executes itself in: the parents
// of placed trees and the init of the PID namespace.
func internal(args []string) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	if code, ok := probe.RunChild(args, os.Stdout, os.Stderr); ok {
		return code, true
	}
	switch args[0] {
	case cycle.TreeParentArg:
		return cycle.RunTreeParent(args[1:], os.Stdout), true
	case bench.PIDNamespaceArg:
		if err := bench.RunPIDNamespace(args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "pid namespace: %v\n", err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// options are the command line.
type options struct {
	pairs     int
	out       string
	src       string
	only      string
	figures   map[string]bool
	processes int
	spread    int
	pidMax    int
	specMB    string
	keep      bool
	criu      string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("crhook-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.pairs, "pairs", 30, fmt.Sprintf("interleaved pairs per figure (at least %d count)", bench.MinPairs))
	fs.StringVar(&o.out, "out", "", "text results file; the JSON copy goes beside it as .json (default bench/results/latest.txt in this checkout)")
	fs.StringVar(&o.src, "src", "", "crhook checkout to build crhook from, such as an older one to compare (default: the one around the working directory, whose bench tools are always used)")
	fs.StringVar(&o.only, "only", strings.Join(figureOrder, ","), "figures to run, comma-separated")
	fs.IntVar(&o.processes, "processes", 100, "processes in the placed tree (figure 3)")
	fs.IntVar(&o.spread, "spread", 1000, "width of the PID window each placed tree is spread over (figure 3)")
	fs.IntVar(&o.pidMax, "pid-max", 32768, "pid_max of figure 3's namespace, raised when the windows need more, where the kernel lets a namespace have its own")
	fs.StringVar(&o.specMB, "spec-mb", "1,2,4", "sizes of the large specs of figure 2, in MiB")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (bundles, specs, binaries)")
	fs.StringVar(&o.criu, "criu", "", "a criu >= 3.18, for figure 5's rows against criu restore (default: none, those rows are left out)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	figures, err := parseFigures(o.only)
	if err != nil {
		return options{}, err
	}
	o.figures = figures
	if o.pairs < 1 || o.processes < 2 || o.spread < 4*o.processes || o.pidMax < 1000 {
		return options{}, errors.New("need -pairs >= 1, -processes >= 2, -spread >= 4 * processes and -pid-max >= 1000")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: it starts containers and creates PID namespaces")
	}
	cfg, cleanup, err := setUp(o, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	report := bench.Report{Started: time.Now(), Host: host(), Pairs: o.pairs}
	figures, err := runFigures(o, cfg)
	if err != nil {
		return err
	}
	report.Figures = figures
	if err := report.WriteText(stdout); err != nil {
		return fmt.Errorf("print results: %w", err)
	}
	out := o.out
	if out == "" {
		out = filepath.Join(cfg.Checkout, "bench", "results", "latest.txt")
	}
	jsonPath, err := report.WriteFiles(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "results written to %s and %s\n", out, jsonPath)
	return nil
}

// setUp makes the scratch directory and builds the binaries into it.
func setUp(o options, progress io.Writer) (bench.Config, func(), error) {
	here, err := bench.CheckoutDir()
	if err != nil {
		return bench.Config{}, nil, err
	}
	src := o.src
	if src == "" {
		src = here
	}
	sizes, err := parseSizes(o.specMB)
	if err != nil {
		return bench.Config{}, nil, err
	}
	dir, err := os.MkdirTemp("", "crhook-bench-")
	if err != nil {
		return bench.Config{}, nil, fmt.Errorf("create scratch directory: %w", err)
	}
	cleanup := func() {
		if o.keep {
			fmt.Fprintf(progress, "scratch directory kept: %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}
	fmt.Fprintf(progress, "building crhook, crhook-hook, the floors and proctime from %s\n", src)
	bin, err := bench.Build(src, filepath.Join(here, "bench"), filepath.Join(dir, "bin"))
	if err != nil {
		cleanup()
		return bench.Config{}, nil, err
	}
	if o.pairs < bench.MinPairs {
		fmt.Fprintf(progress, "warning: %d pairs is below %d; the figures are too noisy to count\n", o.pairs, bench.MinPairs)
	}
	return bench.Config{
		Pairs: o.pairs, Bin: bin, Dir: dir, Progress: progress,
		Processes: o.processes, Spread: o.spread, PIDMax: o.pidMax, SpecMB: sizes,
		Src: src, Checkout: here, CRIU: o.criu,
	}, cleanup, nil
}

// figureOrder is the order figures run and print in.
var figureOrder = []string{"hooks", "precreate", "pids", "engines", "preflight"}

func runFigures(o options, cfg bench.Config) ([]bench.Figure, error) {
	all := map[string]func(bench.Config) (bench.Figure, error){
		"hooks": bench.HookOverhead,
		"precreate": func(c bench.Config) (bench.Figure, error) {
			return bench.Precreate(c, filepath.Join(c.Checkout, "spec", "testdata", "runc-spec.json"))
		},
		"pids":      bench.PIDPlacement,
		"engines":   bench.EnginePath,
		"preflight": bench.Preflight,
	}
	var figures []bench.Figure
	for _, name := range figureOrder {
		if !o.figures[name] {
			continue
		}
		fmt.Fprintf(cfg.Progress, "%s: running\n", name)
		f, err := all[name](cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		figures = append(figures, f)
	}
	return figures, nil
}

func parseFigures(list string) (map[string]bool, error) {
	figures := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(figureOrder, name) {
			return nil, fmt.Errorf("-only: unknown figure %q (want %s)", name, strings.Join(figureOrder, ", "))
		}
		figures[name] = true
	}
	return figures, nil
}

func parseSizes(list string) ([]float64, error) {
	var sizes []float64
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("-spec-mb: %q is not a size in MiB", f)
		}
		sizes = append(sizes, v)
	}
	return sizes, nil
}

func host() bench.Host {
	h := bench.Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	h.Runc = bench.RuncVersion()
	return h
}
