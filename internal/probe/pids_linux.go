package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Placement is one process placed at a chosen PID.
type Placement struct {
	Want int `json:"want"`
	Got  int `json:"got"`
	// Error is the kernel's answer when clone3 failed, e.g. "EPERM".
	Error string `json:"error,omitempty"`
}

// OK reports whether the process landed on its PID.
func (p Placement) OK() bool { return p.Error == "" && p.Got == p.Want }

// Place creates one short-lived child at each PID, in order, checks that
// it got that PID and reaps it. It stops at the first failure.
func Place(pids []int) ([]Placement, time.Duration) {
	var out []Placement
	start := time.Now()
	for _, want := range pids {
		p := placeOne(want)
		out = append(out, p)
		if !p.OK() {
			break
		}
	}
	return out, time.Since(start)
}

func placeOne(want int) Placement {
	p := Placement{Want: want}
	got, err := cloneAt(want, nil)
	if err != nil {
		p.Error = ErrnoName(err)
		return p
	}
	p.Got = got
	if _, err := Reap(got); err != nil {
		p.Error = err.Error()
	}
	return p
}

// PIDMax reads the PID namespace's pid_max (set_tid must stay below it).
func PIDMax() (int, error) { return readNumber("/proc/sys/kernel/pid_max") }

// LastPID reads ns_last_pid: the PID the allocator of the caller's PID
// namespace handed out last.
func LastPID() (int, error) { return readNumber(NsLastPIDPath) }

// readNumber reads a /proc/sys file that holds one number.
func readNumber(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	return n, nil
}

// FreePIDs picks n PIDs that no process holds, spread evenly over
// [lo, pidMax), as a restored tree's PIDs would be.
func FreePIDs(n, lo, pidMax int) ([]int, error) {
	if n <= 0 || lo <= 0 || lo+n >= pidMax {
		return nil, fmt.Errorf("cannot pick %d PIDs between %d and %d", n, lo, pidMax)
	}
	step := (pidMax - lo) / n
	var pids []int
	for i := 0; i < n; i++ {
		pid := lo + i*step
		for Taken(pid) || (len(pids) > 0 && pid <= pids[len(pids)-1]) {
			pid++
		}
		if pid >= pidMax {
			return nil, fmt.Errorf("no free PID left below %d", pidMax)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Taken reports whether a process holds pid in the caller's PID
// namespace.
func Taken(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// ErrnoName names a kernel error the way man pages do ("EPERM").
func ErrnoName(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}
