// Command noophook is the floor for hook overhead: a static hook that
// reads the container state on stdin to EOF and exits 0, doing nothing
// else. crhook-bench builds it with CGO_ENABLED=0 and registers it where
// crhook's own hooks go.
package main

import (
	"io"
	"os"
)

func main() {
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		os.Exit(1)
	}
}
