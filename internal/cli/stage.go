package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/errkind"
)

// stageFunc is one of package hook's stages.
type stageFunc func(hook.Env) (hook.Outcome, error)

// NewFlags returns a flag set that reports errors instead of exiting and
// takes --config, which every stage accepts.
func NewFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "admin config file (default $"+config.EnvPath+" or "+config.DefaultPath+"; hook stages read only this flag or "+config.DefaultPath+")")
	return fs, configPath
}

func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errkind.BadInput(fmt.Errorf("%w; run `%s help`", err, filepath.Base(os.Args[0])))
	}
	if fs.NArg() > 0 {
		return errkind.BadInput(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

func LoadConfig(flagPath string) (config.Config, error) {
	return config.Load(config.Resolve(flagPath))
}

func StageCommand(name string, stage stageFunc) func([]string, io.Reader, io.Writer) error {
	return func(args []string, stdin io.Reader, stdout io.Writer) error {
		fs, configPath := NewFlags(name)
		if err := ParseFlags(fs, args); err != nil {
			return err
		}
		return RunStage(name, *configPath, true, func(env hook.Env) (hook.Outcome, error) {
			env.Stdin, env.Stdout = stdin, stdout
			return stage(env)
		})
	}
}

// ErrTimeout marks a stage that did not finish in time.
var ErrTimeout = errors.New("timed out")

// RunStage loads the config, runs stage under the config's deadline and
// logs its one line (see runLoaded). A hook stage (hookStage) reads the
// config its arguments name, or the default, never $CRHOOK_CONFIG (see
// config.ResolveHook); patch, which an admin runs, takes it too.
func RunStage(name, configPath string, hookStage bool, stage stageFunc) error {
	oneShotMemory()
	resolve := config.Resolve
	if hookStage {
		resolve = config.ResolveHook
	}
	cfg, err := config.Load(resolve(configPath))
	if err != nil {
		record(name, config.Default(), hook.Outcome{}, err, 0)
		return err
	}
	return runLoaded(name, cfg, stage)
}

// runLoaded runs stage under cfg's deadline and logs its one line. A
// stage stuck on input that never ends (stdin left open, a blocking
// file) is abandoned at the deadline: the process exits, so a hook never
// holds a container start for longer than that. The stage runs on this
// goroutine and the deadline on the timer's: measured, a stage on a
// goroutine of its own cost a hook's cold start a tenth more.
func runLoaded(name string, cfg config.Config, stage stageFunc) error {
	start := time.Now()
	// AfterFunc, not a channel timer: it reads no GODEBUG setting, which a
	// hook would pay for on every start.
	deadline := time.AfterFunc(cfg.Timeout, func() {
		err := fmt.Errorf("%w after %s waiting for input; the runtime must close stdin and the bundle must be readable (timeout in %s)",
			ErrTimeout, cfg.Timeout, configName(cfg))
		record(name, cfg, hook.Outcome{}, err, time.Since(start))
		exit(err)
	})
	out, err := stage(hook.Env{Config: cfg})
	if !deadline.Stop() {
		select {} // the deadline came first and is ending the process
	}
	record(name, cfg, out, err, time.Since(start))
	if err != nil && out.Container != "" {
		return fmt.Errorf("container %s: %w", out.Container, err)
	}
	return err
}

// record logs a stage's one line.
func record(name string, cfg config.Config, out hook.Outcome, err error, took time.Duration) {
	log := hook.OpenLog(cfg)
	defer log.Close()
	log.Record(name, out, err, took)
}

func configName(cfg config.Config) string {
	if cfg.Path == "" {
		return config.DefaultPath
	}
	return cfg.Path
}

// gcFreeHeap is how large the heap of a hook run may grow before the
// garbage collector runs at all: far above what the largest real spec
// needs (about 20 MiB for a 4 MiB spec), and a bound on hostile ones.
const gcFreeHeap = 256 << 20

// oneShotMemory turns the garbage collector off below gcFreeHeap. A hook
// lives for milliseconds and keeps nearly everything it allocates to the
// end (the spec, its index, the output), so collecting finds little to
// free: measured on a 4 MiB spec, the collections took 38% of the run
// and freed nothing the peak RSS would miss.
func oneShotMemory() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(gcFreeHeap)
}
