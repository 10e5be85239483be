package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// daemon is an engine the figure started privately: its own state under
// dir, its output in a log there, stopped by its PID.
type daemon struct {
	name string
	dir  string
	cmd  *exec.Cmd
	log  *os.File
}

// startDaemon runs bin with args and extra environment, and waits until
// ready says it serves.
func startDaemon(name, dir string, env []string, ready func() error, bin string, args ...string) (*daemon, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: a signal to the benchmark is not its.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, dir: dir, cmd: cmd, log: log}
	deadline := time.Now().Add(time.Minute)
	for {
		err := ready()
		if err == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("%s does not serve after a minute: %w; its log: %s", name, err, d.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the daemon (SIGTERM, then SIGKILL after 20 s) and unmounts
// what it left mounted under its directory.
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
	d.log.Close()
	unmountUnder(d.dir)
}

// tail is the end of the daemon's log, for an error.
func (d *daemon) tail() string {
	data, _ := os.ReadFile(d.log.Name())
	const n = 1500
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return strings.TrimSpace(string(data))
}

// unmountUnder detaches every mount below dir, deepest first: engines
// leave their rootfs and shm mounts when stopped.
func unmountUnder(dir string) {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		unix.Unmount(m.Mountpoint, unix.MNT_DETACH) // best effort: the directory goes next
	}
}
