// Command crhook grants CAP_CHECKPOINT_RESTORE to containers that opt in,
// and checks before and after start that the grant took effect and that
// /proc/sys stayed read-only. See README.md for the stages and commands.
package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/internal/probe"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if code, ok := probe.RunChild(os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	name := "crhook"
	run := run
	if filepath.Base(os.Args[0]) == runtimeName {
		name = runtimeName
		run = func(args []string, _ io.Reader, _ io.Writer) error { return runShim(args, "", "") }
	} else if len(os.Args) > 1 {
		if _, known := commands()[os.Args[1]]; known {
			name += " " + os.Args[1]
		}
	}
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, hook.OneLine(err))
		os.Exit(errkind.ExitCode(err))
	}
}

type command struct {
	run   func(args []string, stdin io.Reader, stdout io.Writer) error
	usage string
}

func commands() map[string]command {
	return map[string]command{
		"precreate":     {stageCommand("precreate", hook.Precreate), "read a spec on stdin, write the adjusted spec to stdout"},
		"runtime":       {runtimeCommand, "runtime [--runtime PATH] -- ARGS: the runtime shim (also run as crhook-runtime)"},
		"createRuntime": {stageCommand("createRuntime", hook.CreateRuntime), "check an opted-in container's config (state on stdin)"},
		"prestart":      {stageCommand("prestart", hook.CreateRuntime), "same as createRuntime, for runtimes that only know prestart"},
		"poststart":     {stageCommand("poststart", hook.Poststart), "check the running container (state on stdin)"},
		"doctor":        {doctorCommand, "doctor [--json]: is this host ready for crhook, and is crhook installed in its engines"},
		"install":       {installCommand, "install --for ENGINE [--dry-run]: wire crhook into podman, docker, containerd or crio"},
		"uninstall":     {uninstallCommand, "uninstall --for ENGINE [--dry-run]: remove exactly what install wrote"},
		"patch":         {patchCommand, "patch --bundle DIR [--profile P]: opt a bundle in and register the checks"},
		"verify":        {verifyCommand, "verify [--json] [--pids LIST | --tree N]: inside a container, try a restore drill and report"},
		"version":       {versionCommand, "print the version"},
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errkind.BadInput(errors.New("missing command; run `crhook help`"))
	}
	if args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		return usage(stdout)
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return errkind.BadInput(fmt.Errorf("unknown command %q; run `crhook help`", args[0]))
	}
	return cmd.run(args[1:], stdin, stdout)
}

func usage(w io.Writer) error {
	cmds := commands()
	fmt.Fprintf(w, "usage: crhook COMMAND [--config FILE] [flags]\n\ncommands:\n")
	for _, name := range slices.Sorted(maps.Keys(cmds)) {
		fmt.Fprintf(w, "  %-14s %s\n", name, cmds[name].usage)
	}
	return nil
}

func versionCommand(args []string, _ io.Reader, stdout io.Writer) error {
	if len(args) > 0 {
		return errkind.BadInput(fmt.Errorf("version takes no arguments"))
	}
	_, err := fmt.Fprintf(stdout, "crhook %s\n", version)
	return err
}

// self is crhook's absolute path, for the hooks it registers.
func self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find crhook's own path: %w", err)
	}
	return filepath.EvalSymlinks(p)
}
