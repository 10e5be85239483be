// Command crhook-hook is the build of crhook that engines run on every
// container start: the hook stages (precreate, createRuntime, prestart,
// poststart) and, called as crhook-runtime, the runtime shim. It links
// nothing else, so its start-up stays near a bare Go program's; crhook,
// the command people run, has the same stages plus every other command.
package main

import "github.com/crhook/crhook/internal/cli"

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Main("crhook-hook", cli.HookCommands(version))
}
