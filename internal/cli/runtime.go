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
	"github.com/crhook/crhook/spec"
)

// RuntimeName is the name that makes crhook the runtime shim (argv[0]);
// see spec.RuntimeBinary for the runtime-level opt-in its links carry.
const RuntimeName = spec.RuntimeBinary

// RuntimeCommand is `crhook runtime [--runtime PATH] [--profile P]
// [--config F] -- ARGS`.
func RuntimeCommand(args []string, _ io.Reader, _ io.Writer) error {
	fs, configPath := NewFlags("runtime")
	runtime := fs.String("runtime", "", "the real OCI runtime (default $"+shim.EnvRuntime+", the config's runtime, else runc)")
	profile := fs.String("profile", "", "opt every container in with this profile unless its annotations say otherwise")
	if err := fs.Parse(args); err != nil {
		return errkind.BadInput(fmt.Errorf("%w; usage: crhook runtime [--runtime PATH] [--profile P] -- RUNTIME-ARGS", err))
	}
	var optIn spec.Profile
	if *profile != "" {
		var err error
		if optIn, err = spec.ParseProfile(*profile); err != nil {
			return err
		}
	}
	return RunShim(fs.Args(), *runtime, *configPath, optIn)
}

// RunShim adjusts the bundle on create/run and the process on exec, then
// execs the real runtime. On success it does not return.
func RunShim(args []string, runtimeFlag, configPath string, optIn spec.Profile) error {
	oneShotMemory()
	inv := shim.ParseArgs(args)
	if err := adjustForRuntime(inv, args, runtimeFlag, configPath, optIn); err != nil {
		return shimRefusal(inv, err)
	}
	return nil
}

// shimRefusal also appends the refusal to the runtime log the engine
// gave: the engine may read only that file, not stderr.
func shimRefusal(inv shim.Invocation, err error) error {
	if logErr := shim.WriteRuntimeLog(inv, RuntimeName+": "+hook.OneLine(err)); logErr != nil {
		err = errors.Join(err, logErr)
	}
	return err
}

func adjustForRuntime(inv shim.Invocation, args []string, runtimeFlag, configPath string, optIn spec.Profile) error {
	execs := inv.Command == "exec" && inv.Process != ""
	cfg := config.Default()
	if inv.Adjusts() || execs || (runtimeFlag == "" && os.Getenv(shim.EnvRuntime) == "") {
		var err error
		if cfg, err = LoadConfig(configPath); err != nil {
			return err
		}
	}
	// The running binary, as the kernel knows it: enough to refuse a
	// runtime that is crhook itself without resolving our own path.
	runtime, err := shim.ResolveRuntime(runtimeFlag, cfg.Runtime, "/proc/self/exe")
	if err != nil {
		return errkind.BadInput(err)
	}
	// Every other command (start, state, kill, delete, ...) needs nothing
	// from crhook: the runtime at once.
	if !inv.Adjusts() && !execs {
		return shim.Exec(runtime, args)
	}
	me, err := Self()
	if err != nil {
		return err
	}
	switch {
	case inv.Adjusts():
		bundle := inv.Bundle
		if bundle == "" {
			bundle = "."
		}
		err = runLoaded("runtime", cfg, func(env hook.Env) (hook.Outcome, error) {
			env.Self = HookBinaryOrSelf(me)
			out, err := hook.AdjustBundle(env, bundle, optIn)
			out.Container = inv.ID
			return out, err
		})
	case execs:
		err = runLoaded("exec", cfg, func(env hook.Env) (hook.Outcome, error) {
			bundle, err := shim.StateBundle(runtime, inv)
			if err != nil {
				return hook.Outcome{Container: inv.ID}, err
			}
			out, err := hook.AdjustExec(env, inv.Process, bundle)
			out.Container = inv.ID
			return out, err
		})
	}
	if err != nil {
		return err
	}
	return shim.Exec(runtime, args)
}
