package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/boundedio"
)

// ErrGone marks a process that exited before crhook could read it.
var ErrGone = errors.New("process is gone")

// maxProcFile bounds a /proc read; mountinfo of a busy host stays far below.
const maxProcFile = 16 << 20

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	data, err := readPID(pid, "status")
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(bytes.NewReader(data))
}

// ReadMounts reads /proc/PID/mountinfo: the mounts in pid's mount
// namespace, as pid sees them from its root.
func ReadMounts(pid int) ([]*mountinfo.Info, error) {
	data, err := readPID(pid, "mountinfo")
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, fmt.Errorf("parse /proc/%d/mountinfo: %w", pid, err)
	}
	return mounts, nil
}

func readPID(pid int, name string) ([]byte, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d is not a process", pid)
	}
	p := "/proc/" + strconv.Itoa(pid) + "/" + name
	data, err := boundedio.ReadFile(p, maxProcFile)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) || (errors.Is(err, unix.EINVAL) && exited(pid)) {
		return nil, fmt.Errorf("read %s: %w", p, ErrGone)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return data, nil
}

// exited reports whether pid is a zombie or dead: the kernel answers
// EINVAL for the mountinfo of a process that has exited but not been
// reaped, whose mount namespace is gone.
func exited(pid int) bool {
	data, err := boundedio.ReadFile("/proc/"+strconv.Itoa(pid)+"/stat", maxProcFile)
	if err != nil {
		return true
	}
	// The state follows the command, which is in parentheses and may
	// itself hold ") ".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	return data[i+2] == 'Z' || data[i+2] == 'X'
}
