package main

import (
	"io"
	"os"

	"github.com/crhook/crhook/internal/dropcaps"
)

// dropCapsCommand is `crhook drop-caps [--] CMD [ARGS]`: run CMD holding
// no capability (see package dropcaps).
func dropCapsCommand(args []string, _ io.Reader, _ io.Writer) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return dropcaps.Exec(args, os.Environ())
}
