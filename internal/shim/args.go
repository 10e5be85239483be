package shim

import "strings"

// Invocation is what crhook-runtime needs from a runtime command line.
type Invocation struct {
	// Command is the runtime subcommand: "create", "run", "state", ...;
	// empty when there is none (`runc --version`).
	Command string
	// Bundle is the --bundle/-b value of create or run; empty means the
	// working directory, as runc and crun take it.
	Bundle string
	// ID is the container id of create or run: the last argument, which
	// is where runc and crun take it and engines put it. For messages only.
	ID string
	// Log and LogFormat are the global --log and --log-format values:
	// containerd reads a failing runtime's error from that file.
	Log, LogFormat string
	// Root is the global --root value: where the runtime keeps state.
	Root string
	// Process is exec's --process/-p file: the process an engine execs
	// into a running container (docker exec, kubectl exec).
	Process string
}

// Adjusts reports whether the command creates a container, the only
// moment crhook can change its capabilities.
func (inv Invocation) Adjusts() bool {
	return inv.Command == "create" || inv.Command == "run"
}

// globalValueFlags are the global flags of runc and crun that take a
// value in the next argument unless written --flag=value. A global flag
// crhook does not know is taken as boolean; if it did take a value, the
// command is misread and passes through unadjusted, which fails closed:
// createRuntime then refuses the container.
var globalValueFlags = map[string]bool{
	"log": true, "log-format": true, "root": true, "criu": true,
	"rootless": true, "cgroup-manager": true,
}

// ParseArgs reads a runc-style command line: global flags, the command,
// then the command's flags and arguments.
func ParseArgs(args []string) Invocation {
	var inv Invocation
	i := 0
	for ; i < len(args); i++ {
		name, value, hasValue, ok := splitFlag(args[i])
		if !ok {
			break
		}
		if args[i] == "--" {
			i++
			break
		}
		if !hasValue && globalValueFlags[name] && i+1 < len(args) {
			i++
			value = args[i]
		}
		switch name {
		case "log":
			inv.Log = value
		case "log-format":
			inv.LogFormat = value
		case "root":
			inv.Root = value
		}
	}
	if i >= len(args) {
		return inv
	}
	inv.Command = args[i]
	rest := args[i+1:]
	switch {
	case inv.Adjusts():
		inv.Bundle = commandFlag(rest, "bundle", "b")
		inv.ID = lastArg(rest)
	case inv.Command == "exec":
		if inv.Process = commandFlag(rest, "process", "p"); inv.Process != "" {
			inv.ID = firstArg(rest, execValueFlags)
		}
	}
	return inv
}

// execValueFlags are exec's flags of runc and crun that take a value in
// the next argument unless written --flag=value.
var execValueFlags = map[string]bool{
	"console-socket": true, "cwd": true, "env": true, "e": true, "user": true, "u": true,
	"additional-gids": true, "g": true, "process": true, "p": true, "process-label": true,
	"apparmor": true, "pid-file": true, "preserve-fds": true, "cgroup": true, "cap": true, "c": true,
}

// firstArg returns the first argument that is not a flag or a flag's
// value: exec's container id.
func firstArg(args []string, valueFlags map[string]bool) string {
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		}
		name, _, hasValue, ok := splitFlag(args[i])
		if !ok {
			return args[i]
		}
		if !hasValue && valueFlags[name] {
			i++
		}
	}
	return ""
}

func lastArg(args []string) string {
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") {
		return args[n-1]
	}
	return ""
}

// commandFlag returns the last value of a command's flag, long or short
// (--bundle/-b, --process/-p), as the runtimes' flag parsers keep the last.
func commandFlag(args []string, long, short string) string {
	found := ""
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, value, hasValue, ok := splitFlag(args[i])
		if !ok || (name != long && name != short) {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				break
			}
			i++
			value = args[i]
		}
		found = value
	}
	return found
}

// splitFlag splits "--name=value", "-name=value", "--name" and "-n". ok
// is false for arguments that are not flags.
func splitFlag(arg string) (name, value string, hasValue, ok bool) {
	if len(arg) < 2 || arg[0] != '-' {
		return "", "", false, false
	}
	name = strings.TrimLeft(arg, "-")
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue, true
}
