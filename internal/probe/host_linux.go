package probe

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// NsLastPIDPath is the file older restore tools write to pick the next PID.
const NsLastPIDPath = "/proc/sys/kernel/ns_last_pid"

// WriteNsLastPID writes ns_last_pid's current value back, which changes
// nothing but tells whether the write is allowed (EROFS on a read-only
// /proc/sys, EPERM without the capability).
func WriteNsLastPID() error {
	cur, err := os.ReadFile(NsLastPIDPath)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(NsLastPIDPath, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(bytes.TrimSpace(cur))
	return err
}

// Capabilities reports which of the calling process's sets hold cap.
func Capabilities(c capability.Cap) (map[string]bool, error) {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	if err := caps.Load(); err != nil {
		return nil, fmt.Errorf("load capabilities: %w", err)
	}
	sets := map[string]bool{}
	for _, which := range []capability.CapType{capability.EFFECTIVE, capability.PERMITTED, capability.INHERITABLE, capability.BOUNDING, capability.AMBIENT} {
		sets[which.String()] = caps.Get(which, c)
	}
	return sets, nil
}

// NoNewPrivs reports the no_new_privs flag.
func NoNewPrivs() (bool, error) {
	v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	return v == 1, err
}

// Securebits reports the caller's securebits (PR_GET_SECUREBITS).
func Securebits() (uint32, error) {
	v, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
	return uint32(v), err
}

// InInitialUserNS reports whether the caller is in the initial user
// namespace, whose uid_map maps all of 0..2^32-2 onto itself.
func InInitialUserNS() (bool, error) {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false, err
	}
	f := strings.Fields(string(b))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295", nil
}

// MapFiles opens the first entry of /proc/self/map_files, which needs
// CAP_CHECKPOINT_RESTORE in the initial user namespace.
func MapFiles() error {
	entries, err := os.ReadDir("/proc/self/map_files")
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return errors.New("no mappings listed")
	}
	f, err := os.Open("/proc/self/map_files/" + entries[0].Name())
	if err != nil {
		return err
	}
	return f.Close()
}

// MountProcArg makes crhook, as the child of FreshProc, mount a proc.
const MountProcArg = "__crhook-mount-proc"

// FreshProc tries the pre-5.9 way to own PIDs: a new user and PID
// namespace with a fresh /proc mounted in it. It runs self as that
// namespace's init, which mounts proc on a private /proc.
func FreshProc(self string) error {
	cmd := exec.Command(self, MountProcArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return errors.New(msg)
		}
		return err
	}
	return nil
}

// MountProc is the child side of FreshProc.
func MountProc() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %s", ErrnoName(err))
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc: %s", ErrnoName(err))
	}
	return nil
}
