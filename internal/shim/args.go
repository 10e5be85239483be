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
		}
	}
	if i >= len(args) {
		return inv
	}
	inv.Command = args[i]
	if inv.Adjusts() {
		rest := args[i+1:]
		inv.Bundle = findBundle(rest)
		if n := len(rest); n > 0 && !strings.HasPrefix(rest[n-1], "-") {
			inv.ID = rest[n-1]
		}
	}
	return inv
}

// findBundle returns the last --bundle/-b value, as the runtimes' flag
// parsers keep the last one.
func findBundle(args []string) string {
	bundle := ""
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, value, hasValue, ok := splitFlag(args[i])
		if !ok || (name != "bundle" && name != "b") {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				break
			}
			i++
			value = args[i]
		}
		bundle = value
	}
	return bundle
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
