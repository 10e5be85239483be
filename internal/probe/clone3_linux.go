package probe

import (
	"fmt"
	"io"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is struct clone_args (linux/sched.h), version 2 (set_tid).
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	childTID   uint64
	parentTID  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTID     uint64
	setTIDSize uint64
	cgroup     uint64
}

// execArgs is a prepared execve, built before clone3 because the child
// may not allocate: it is a copy of one thread of a Go program.
type execArgs struct {
	path *byte
	argv []*byte
	envp []*byte
	// stdout, when >= 0, is dup'd onto fd 1 before execve.
	stdout int
}

func newExecArgs(path string, argv, envv []string, stdout int) (*execArgs, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	a, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return nil, err
	}
	e, err := syscall.SlicePtrFromStrings(envv)
	if err != nil {
		return nil, err
	}
	return &execArgs{path: p, argv: a, envp: e, stdout: stdout}, nil
}

// cloneAt creates a child at pid in the caller's PID namespace with
// clone3 set_tid. The child execs ex, or exits at once when ex is nil.
// It returns the pid clone3 reported.
//
//go:norace
func cloneAt(want int, ex *execArgs) (int, error) {
	tid := int32(want)
	args := cloneArgs{
		exitSignal: uint64(unix.SIGCHLD),
		setTID:     uint64(uintptr(unsafe.Pointer(&tid))),
		setTIDSize: 1,
	}
	var path, argv, envp uintptr
	stdout := -1
	if ex != nil {
		path = uintptr(unsafe.Pointer(ex.path))
		argv = uintptr(unsafe.Pointer(&ex.argv[0]))
		envp = uintptr(unsafe.Pointer(&ex.envp[0]))
		stdout = ex.stdout
	}
	r1, _, errno := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	if errno == 0 && r1 == 0 {
		// In the child: a copy of one thread of a Go program, which must
		// not allocate or take locks. Only raw system calls from here on.
		self, _, _ := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		if path == 0 || int(self) != want {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		if stdout >= 0 {
			unix.RawSyscall(unix.SYS_DUP3, uintptr(stdout), 1, 0)
		}
		unix.RawSyscall(unix.SYS_EXECVE, path, argv, envp)
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(r1), nil
}

// parsePIDArgs reads the numbers a tree parent gets as arguments. On a bad
// one it says so on w, where the caller reads the parent's report.
func parsePIDArgs(args []string, w io.Writer) ([]int, bool) {
	nums := make([]int, 0, len(args))
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintf(w, "bad number %q", a)
			return nil, false
		}
		nums = append(nums, n)
	}
	return nums, true
}

// Reap waits for the child pid and returns its exit status.
func Reap(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for %d: %w", pid, err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// Clone3Seccomp calls clone3 with a size the kernel rejects (EINVAL): any
// other answer came from a seccomp filter (or a kernel before 5.3).
func Clone3Seccomp() error {
	_, _, errno := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	if errno == unix.EINVAL {
		return nil
	}
	if errno == 0 {
		return fmt.Errorf("clone3 with no arguments succeeded")
	}
	return errno
}
