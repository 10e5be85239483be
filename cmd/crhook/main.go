// Command crhook grants CAP_CHECKPOINT_RESTORE to containers that opt in,
// and checks before and after start that the grant took effect and that
// /proc/sys stayed read-only. It has every command; crhook-hook is the
// lean build engines run. See docs/commands.md for every command.
package main

import (
	"os"

	"github.com/crhook/crhook/internal/cli"
	"github.com/crhook/crhook/internal/probe"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if code, ok := probe.RunChild(os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	cli.Main("crhook", commands())
}

func commands() cli.Commands {
	cmds := cli.HookCommands(version)
	cmds["doctor"] = cli.Command{Run: doctorCommand, Usage: "doctor [--json]: is this host ready for crhook, and is crhook installed in its engines"}
	cmds["install"] = cli.Command{Run: installCommand, Usage: "install --for ENGINE [--dry-run]: wire crhook into podman, docker, containerd or crio"}
	cmds["uninstall"] = cli.Command{Run: uninstallCommand, Usage: "uninstall --for ENGINE [--dry-run]: remove exactly what install wrote"}
	cmds["patch"] = cli.Command{Run: patchCommand, Usage: "patch --bundle DIR [--profile P]: opt a bundle in and register the checks"}
	cmds["drop-caps"] = cli.Command{Run: dropCapsCommand, Usage: "drop-caps -- CMD [ARGS]: run CMD holding no capability, so its dump restores under any profile"}
	cmds["verify"] = cli.Command{Run: verifyCommand, Usage: "verify [--json] [--pids LIST | --tree N] [--images DIR]: inside a container, try a restore drill, or check a CRIU dump can be restored here"}
	return cmds
}
