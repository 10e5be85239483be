// Command proctime runs one program to completion and prints, as one
// JSON object, its wall time from start to exit and its peak RSS.
//
//	proctime [-ok-exit N] STDIN-FILE PROGRAM [ARG...]
//
// The program reads STDIN-FILE and writes to /dev/null. crhook-bench
// runs crhook through proctime, not directly, because the peak RSS the
// kernel reports for a child includes the memory of the process that
// started it: Go starts children with vfork, and a vforked child's exec
// records its parent's peak RSS as its own. proctime is small, so its
// share is a low floor, which the benchmark measures with a no-op
// program and reports. It exits 1 when the program fails or cannot run;
// with -ok-exit N, an exit status of N counts as a run, not a failure
// (crhook verify's 1: it did all its work and found a blocker).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// result is what proctime prints.
type result struct {
	WallNanos   int64 `json:"wall_ns"`
	MaxRSSBytes int64 `json:"max_rss_bytes"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "proctime: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	okExit := 0
	if len(args) > 1 && args[0] == "-ok-exit" {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return fmt.Errorf("-ok-exit %q: not a number", args[1])
		}
		okExit, args = n, args[2:]
	}
	if len(args) < 2 {
		return errors.New("usage: proctime [-ok-exit N] STDIN-FILE PROGRAM [ARG...]")
	}
	in, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("open stdin file: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer out.Close()
	cmd := exec.Command(args[1], args[2:]...)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !(okExit != 0 && errors.As(err, &exitErr) && exitErr.ExitCode() == okExit) {
		return fmt.Errorf("%s: %w: %s", args[1], err, bytes.TrimSpace(stderr.Bytes()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no resource usage for the program")
	}
	return json.NewEncoder(os.Stdout).Encode(result{WallNanos: int64(wall), MaxRSSBytes: ru.Maxrss * 1024})
}
