package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/internal/config"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/internal/shim"
)

// RuntimeName is the name that makes crhook the runtime shim (argv[0]).
const RuntimeName = "crhook-runtime"

// RuntimeCommand is `crhook runtime [--runtime PATH] [--config F] -- ARGS`.
func RuntimeCommand(args []string, _ io.Reader, _ io.Writer) error {
	fs, configPath := NewFlags("runtime")
	runtime := fs.String("runtime", "", "the real OCI runtime (default $"+shim.EnvRuntime+", the config's runtime, else runc)")
	if err := fs.Parse(args); err != nil {
		return errkind.BadInput(fmt.Errorf("%w; usage: crhook runtime [--runtime PATH] -- RUNTIME-ARGS", err))
	}
	return RunShim(fs.Args(), *runtime, *configPath)
}

// RunShim adjusts the bundle on create/run, then execs the real runtime.
// On success it does not return.
func RunShim(args []string, runtimeFlag, configPath string) error {
	inv := shim.ParseArgs(args)
	err := adjustForRuntime(inv, args, runtimeFlag, configPath)
	if err != nil {
		// The engine may only read the runtime's log file, not stderr.
		if logErr := shim.WriteRuntimeLog(inv, RuntimeName+": "+hook.OneLine(err)); logErr != nil {
			err = errors.Join(err, logErr)
		}
	}
	return err
}

func adjustForRuntime(inv shim.Invocation, args []string, runtimeFlag, configPath string) error {
	cfg := config.Default()
	if inv.Adjusts() || (runtimeFlag == "" && os.Getenv(shim.EnvRuntime) == "") {
		var err error
		if cfg, err = LoadConfig(configPath); err != nil {
			return err
		}
	}
	me, err := Self()
	if err != nil {
		return err
	}
	if inv.Adjusts() {
		bundle := inv.Bundle
		if bundle == "" {
			bundle = "."
		}
		if err := runLoaded("runtime", cfg, func(env hook.Env) (hook.Outcome, error) {
			env.Self = HookBinaryOrSelf(me)
			out, err := hook.AdjustBundle(env, bundle)
			out.Container = inv.ID
			return out, err
		}); err != nil {
			return err
		}
	}
	runtime, err := shim.ResolveRuntime(runtimeFlag, cfg.Runtime, me)
	if err != nil {
		return errkind.BadInput(err)
	}
	return shim.Exec(runtime, args)
}
