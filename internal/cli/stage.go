package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
	configPath := fs.String("config", "", "admin config file (default $"+config.EnvPath+" or "+config.DefaultPath+")")
	return fs, configPath
}

func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errkind.BadInput(fmt.Errorf("%w; run `crhook help`", err))
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
		return RunStage(name, *configPath, func(env hook.Env) (hook.Outcome, error) {
			env.Stdin, env.Stdout = stdin, stdout
			return stage(env)
		})
	}
}

// ErrTimeout marks a stage that did not finish in time.
var ErrTimeout = errors.New("timed out")

// RunStage loads the config, runs stage under the config's deadline and
// logs its one line (see runLoaded).
func RunStage(name, configPath string, stage stageFunc) error {
	cfg, err := LoadConfig(configPath)
	if err != nil {
		log := hook.OpenLog(config.Default())
		defer log.Close()
		log.Record(name, hook.Outcome{}, err, 0)
		return err
	}
	return runLoaded(name, cfg, stage)
}

// runLoaded runs stage under cfg's deadline and logs its one line. A
// stage stuck on input that never ends (stdin left open, a blocking
// file) is abandoned at the deadline: the process exits, so a hook never
// holds a container start for longer than that.
func runLoaded(name string, cfg config.Config, stage stageFunc) error {
	start := time.Now()
	type result struct {
		out hook.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := stage(hook.Env{Config: cfg})
		done <- result{out, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(cfg.Timeout):
		r.err = fmt.Errorf("%w after %s waiting for input; the runtime must close stdin and the bundle must be readable (timeout in %s)",
			ErrTimeout, cfg.Timeout, configName(cfg))
	}
	log := hook.OpenLog(cfg)
	defer log.Close()
	log.Record(name, r.out, r.err, time.Since(start))
	if r.err != nil && r.out.Container != "" {
		return fmt.Errorf("container %s: %w", r.out.Container, r.err)
	}
	return r.err
}

func configName(cfg config.Config) string {
	if cfg.Path == "" {
		return config.DefaultPath
	}
	return cfg.Path
}
