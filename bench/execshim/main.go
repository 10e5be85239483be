// Command execshim is figure 4's floor for a runtime shim: a static Go
// program that execs runc with its own arguments at once, reading and
// checking nothing. No shim written in Go can cost an engine's runtime
// call less. crhook-bench builds it with CGO_ENABLED=0 and the runc to
// exec set at link time (-X main.runc=PATH).
package main

import (
	"os"

	"golang.org/x/sys/unix"
)

var runc string

func main() {
	err := unix.Exec(runc, append([]string{runc}, os.Args[1:]...), os.Environ())
	os.Stderr.WriteString("execshim: exec " + runc + ": " + err.Error() + "\n")
	os.Exit(1)
}
