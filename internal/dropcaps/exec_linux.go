package dropcaps

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/errkind"
)

// ErrKept marks a process that could not drop a capability.
var ErrKept = errors.New("capabilities remain")

// Exec drops every capability of this thread and execs argv with env. On
// success it does not return. What it drops, in the order the kernel
// needs:
//
//   - no_new_privs first, so no setuid or file-capability program the app
//     runs gains any back (and its dump restores without CAP_SETPCAP);
//   - the ambient set, which is how a non-root process of a crhook
//     container keeps the profile across exec;
//   - the bounding set, when the thread holds CAP_SETPCAP to drop it (the
//     restore and checkpoint profiles do): root regains the bounding set
//     at exec otherwise, and a dump of a task whose bounding set is empty
//     restores under any profile;
//   - effective, permitted and inheritable, last, as they hold SETPCAP.
//
// Capabilities belong to a thread, so the work and the exec happen on one
// locked thread.
func Exec(argv []string, env []string) error {
	if len(argv) == 0 {
		return errkind.BadInput(errors.New("no program to run: crhook drop-caps -- CMD [ARGS]"))
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return errkind.BadInput(err)
	}
	runtime.LockOSThread()
	if err := drop(); err != nil {
		return err
	}
	if err := syscall.Exec(path, argv, env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

func drop() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the ambient set: %w", err)
	}
	caps, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	if err := caps.Load(); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	if caps.Get(capability.EFFECTIVE, capability.CAP_SETPCAP) {
		last, err := capability.LastCap()
		if err != nil {
			return fmt.Errorf("read the last capability: %w", err)
		}
		for c := capability.Cap(0); c <= last; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("drop %s from the bounding set: %w", c, err)
			}
		}
	} else if os.Geteuid() == 0 {
		return fmt.Errorf("%w: as uid 0 without CAP_SETPCAP the bounding set stays, and exec gives root all of it back; run the app as another user, or under profile restore", ErrKept)
	}
	caps.Clear(capability.CAPS)
	if err := caps.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("clear effective, permitted and inheritable: %w", err)
	}
	return nil
}
