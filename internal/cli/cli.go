package cli

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
	"github.com/crhook/crhook/internal/shim"
	"github.com/crhook/crhook/spec"
)

// Command is one subcommand of a binary.
type Command struct {
	Run   func(args []string, stdin io.Reader, stdout io.Writer) error
	Usage string
}

// Commands maps a subcommand's name to it.
type Commands map[string]Command

// HookCommands are the commands an engine runs on a container start: the
// stages, the shim and version. Both binaries have them.
func HookCommands(version string) Commands {
	return Commands{
		"precreate":     {StageCommand("precreate", hook.Precreate), "read a spec on stdin, write the adjusted spec to stdout"},
		"runtime":       {RuntimeCommand, "runtime [--runtime PATH] [--profile P] -- ARGS: the runtime shim (also run as crhook-runtime, or crhook-runtime-PROFILE)"},
		"createRuntime": {StageCommand("createRuntime", hook.CreateRuntime), "check an opted-in container's config (state on stdin)"},
		"prestart":      {StageCommand("prestart", hook.CreateRuntime), "same as createRuntime, for runtimes that only know prestart"},
		"poststart":     {StageCommand("poststart", hook.Poststart), "check the running container (state on stdin)"},
		"version":       {versionCommand(version), "print the version"},
	}
}

// Main runs the binary called name with cmds, or as the runtime shim when
// its argv[0] is crhook-runtime, and exits with the error's code after
// one line on stderr.
func Main(name string, cmds Commands) {
	run := func(args []string, stdin io.Reader, stdout io.Writer) error {
		return cmds.run(name, args, stdin, stdout)
	}
	label := name
	if optIn, isShim, err := spec.RuntimeOptInOf(filepath.Base(os.Args[0])); isShim {
		label = RuntimeName
		run = func(args []string, _ io.Reader, _ io.Writer) error {
			if err != nil {
				return shimRefusal(shim.ParseArgs(args), err)
			}
			return RunShim(args, "", "", optIn)
		}
	} else if len(os.Args) > 1 {
		if _, known := cmds[os.Args[1]]; known {
			label += " " + os.Args[1]
		}
	}
	exitLabel = label
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		exit(err)
	}
}

// exitLabel starts the line exit prints: the binary and its command.
var exitLabel = "crhook"

// exit ends the process after err's one line on stderr, with its code.
func exit(err error) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", exitLabel, hook.OneLine(err))
	os.Exit(errkind.ExitCode(err))
}

func (cmds Commands) run(name string, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errkind.BadInput(fmt.Errorf("missing command; run `%s help`", name))
	}
	if args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		return cmds.usage(name, stdout)
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return errkind.BadInput(fmt.Errorf("unknown command %s; run `%s help`", quoteArg(args[0]), name))
	}
	return cmd.Run(args[1:], stdin, stdout)
}

func (cmds Commands) usage(name string, w io.Writer) error {
	fmt.Fprintf(w, "usage: %s COMMAND [--config FILE] [flags]\n\ncommands:\n", name)
	for _, cmd := range slices.Sorted(maps.Keys(cmds)) {
		fmt.Fprintf(w, "  %-14s %s\n", cmd, cmds[cmd].Usage)
	}
	return nil
}

// quoteArg shows a command-line word in an error, cut short.
func quoteArg(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func versionCommand(version string) func([]string, io.Reader, io.Writer) error {
	return func(args []string, _ io.Reader, stdout io.Writer) error {
		if len(args) > 0 {
			return errkind.BadInput(errors.New("version takes no arguments"))
		}
		_, err := fmt.Fprintf(stdout, "crhook %s\n", version)
		return err
	}
}

// Self is this binary's absolute path with links resolved, for the hooks
// it registers.
func Self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find crhook's own path: %w", err)
	}
	return filepath.EvalSymlinks(p)
}

// HookBinaryName is the lean build engines run, installed beside crhook.
const HookBinaryName = "crhook-hook"

// HookBinary returns the crhook-hook beside self, the binary the hooks
// crhook registers should run, or "" when there is none.
func HookBinary(self string) string {
	if filepath.Base(self) == HookBinaryName {
		return self
	}
	sibling := filepath.Join(filepath.Dir(self), HookBinaryName)
	if fi, err := os.Stat(sibling); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return sibling
	}
	return ""
}

// HookBinaryOrSelf is HookBinary, falling back to self: a crhook copied
// alone still registers working hooks, only slower ones.
func HookBinaryOrSelf(self string) string {
	if h := HookBinary(self); h != "" {
		return h
	}
	return self
}
