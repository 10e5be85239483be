package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/hook"
	"github.com/crhook/crhook/install"
	"github.com/crhook/crhook/internal/probe"
	"github.com/crhook/crhook/spec"
)

// Options: where crhook is, to tell whether it is installed into engines,
// and where its hooks record what they do.
type Options struct {
	Install install.Options
	// Runtime is the admin config's runtime, which crhook-runtime execs
	// ("" for runc from PATH).
	Runtime string
	// LogFile is the admin config's log_file ("" when turned off).
	LogFile string
}

// commandTimeout bounds every program doctor runs (`criu check` included).
const commandTimeout = 10 * time.Second

// Run checks the host.
func Run(opts Options) Report {
	lines := []Line{kernel(), setTID(), yama(), criu()}
	for _, rt := range []string{"runc", "crun"} {
		lines = append(lines, runtime(rt))
	}
	for _, e := range engines {
		lines = append(lines, engine(e, opts.Install))
	}
	lines = append(lines, shimRuntime(opts.Runtime))
	lines = append(lines, logDestinations(opts.LogFile, hook.SyslogSocket))
	return Report{Ready: ready(lines), Lines: lines}
}

// logDestinations says where hook runs are recorded, in file and on the
// syslog socket: every grant, every refusal and every admin override is
// a line there.
func logDestinations(file, socket string) Line {
	l := Line{Name: "log"}
	var where []string
	switch {
	case file == "":
		l.Detail = "log_file is off"
	case writable(file):
		where = append(where, file+fmt.Sprintf(" (rotated to %s.1 at %d MiB)", file, hook.MaxLogSize>>20))
	default:
		l.Detail = file + " cannot be written"
	}
	if _, err := os.Stat(socket); err == nil {
		where = append(where, "syslog ("+socket+")")
	}
	switch {
	case len(where) == 0:
		l.Status = StatusWarn
		l.Detail = strings.TrimPrefix(l.Detail+"; no syslog at "+socket+": grants, refusals and admin overrides are recorded nowhere", "; ")
		l.Fix = "set log_file in the crhook config to a file root can write"
	default:
		l.Status = StatusOK
		l.Detail = strings.TrimPrefix(l.Detail+"; each hook run is recorded in "+strings.Join(where, " and "), "; ")
	}
	return l
}

// writable reports whether root's hooks could append to file, or create
// it, without doctor writing anything.
func writable(file string) bool {
	if err := unix.Access(file, unix.W_OK); err == nil {
		return true
	} else if !errors.Is(err, unix.ENOENT) {
		return false
	}
	return unix.Access(filepath.Dir(file), unix.W_OK|unix.X_OK) == nil
}

func kernel() Line {
	l := Line{Name: "kernel"}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		l.Version = "Linux " + unix.ByteSliceToString(uts.Release[:])
	}
	last, err := capability.LastCap()
	switch {
	case err != nil:
		l.Status, l.Detail = StatusFail, "cannot read the last capability: "+err.Error()
	case int(last) < spec.CapCheckpointRestoreNumber:
		l.Status = StatusFail
		l.Detail = fmt.Sprintf("cap_last_cap is %d: the kernel does not know %s", last, spec.CapCheckpointRestore)
		l.Fix = "run Linux 5.9 or newer"
	default:
		l.Status = StatusOK
		l.Detail = fmt.Sprintf("cap_last_cap is %d: %s (40) is known", last, spec.CapCheckpointRestore)
	}
	return l
}

// setTID places one short-lived child at a free PID with clone3 set_tid.
func setTID() Line {
	l := Line{Name: "clone3 set_tid"}
	pidMax, err := probe.PIDMax()
	if err != nil {
		l.Status, l.Detail = StatusWarn, err.Error()
		return l
	}
	pids, err := probe.FreePIDs(1, pidMax/2, pidMax)
	if err != nil {
		l.Status, l.Detail = StatusWarn, err.Error()
		return l
	}
	placed, _ := probe.Place(pids)
	switch p := placed[0]; {
	case p.OK():
		l.Status, l.Detail = StatusOK, fmt.Sprintf("placed a process at PID %d", p.Got)
	case p.Error == "EPERM" && os.Geteuid() != 0:
		l.Status, l.Detail = StatusWarn, "EPERM: run doctor as root to test it"
	case p.Error == "ENOSYS" || p.Error == "E2BIG" || p.Error == "EINVAL":
		l.Status, l.Detail, l.Fix = StatusFail, "clone3 set_tid is not available ("+p.Error+")", "run Linux 5.5 or newer"
	default:
		l.Status, l.Detail = StatusWarn, fmt.Sprintf("clone3 set_tid=%d: %s", p.Want, p.Error)
	}
	return l
}

func yama() Line {
	l := Line{Name: "yama ptrace_scope"}
	data, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	if errors.Is(err, os.ErrNotExist) {
		l.Status, l.Detail = StatusOK, "no Yama on this kernel: ptrace follows capabilities only"
		return l
	}
	if err != nil {
		l.Status, l.Detail = StatusWarn, err.Error()
		return l
	}
	scope := strings.TrimSpace(string(data))
	l.Detail = "ptrace_scope is " + scope
	switch scope {
	case "0":
		l.Status = StatusOK
	case "1", "2":
		l.Status, l.Fix = StatusWarn, "criu dump of processes it did not start needs the checkpoint profile (CAP_SYS_PTRACE) here"
	default:
		l.Status, l.Fix = StatusWarn, "ptrace is disabled: CRIU cannot dump processes (restore still works)"
	}
	return l
}

// versionPattern is compiled on first use: crhook's hooks never run doctor.
var versionPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\d+\.\d+(\.\d+)?`) })

func criu() Line {
	l := Line{Name: "criu"}
	path, err := exec.LookPath("criu")
	if err != nil {
		l.Status, l.Detail = StatusInfo, "not installed; crhook does not need it, restore tools do"
		return l
	}
	out, _ := output(path, "--version")
	l.Version = versionPattern().FindString(out)
	if major, minor, ok := majorMinor(l.Version); ok && (major > 3 || major == 3 && minor >= 18) {
		l.Detail = "has --unprivileged (3.18+)"
	} else {
		l.Detail = "no --unprivileged mode (needs 3.18+)"
		l.Fix = "use CRIU 3.18 or newer to restore as non-root"
	}
	l.Status = StatusOK
	if out, err := output(path, "check"); err != nil {
		l.Status = StatusWarn
		l.Detail += "; `criu check` fails: " + lastLine(out, err)
	}
	return l
}

func runtime(name string) Line {
	l := Line{Name: name}
	path, err := exec.LookPath(name)
	if err != nil {
		l.Status, l.Detail = StatusInfo, "not installed"
		return l
	}
	out, err := output(path, "--version")
	if err != nil {
		l.Status, l.Detail = StatusWarn, path+" --version fails: "+lastLine(out, err)
		return l
	}
	l.Status, l.Detail, l.Version = StatusOK, path, versionPattern().FindString(out)
	return l
}

// engine describes how to find an engine and crhook's place in it.
type engineInfo struct {
	name     string
	commands []string
	args     []string
}

var engines = []engineInfo{
	{name: "podman", commands: []string{"podman"}, args: []string{"--version"}},
	{name: "docker", commands: []string{"dockerd"}, args: []string{"--version"}},
	{name: "containerd", commands: []string{"containerd"}, args: []string{"--version"}},
	{name: "crio", commands: []string{"crio"}, args: []string{"--version"}},
}

func engine(e engineInfo, o install.Options) Line {
	l := Line{Name: e.name}
	path, err := exec.LookPath(e.commands[0])
	if err != nil {
		l.Status, l.Detail = StatusInfo, "not installed"
		return l
	}
	out, _ := output(path, e.args...)
	l.Version = versionPattern().FindString(out)
	l.Runtime = engineRuntime(e.name, path, o)
	if e.name == "docker" {
		return docker(l, o)
	}
	installed, err := install.Installed(e.name, o)
	switch {
	case err != nil:
		l.Status, l.Detail = StatusWarn, "cannot tell whether crhook is installed: "+err.Error()
	case installed:
		l.Status, l.Detail = StatusOK, "crhook is installed"
	default:
		l.Status, l.Detail = StatusInfo, "crhook is not installed for "+e.name
		l.Fix = "crhook install --for " + e.name
	}
	return l
}

// dockerAnnotations is the first Docker whose API (1.43) carries container
// annotations to the runtime.
const dockerAnnotations = 24

// docker reports the engine's version, whether annotations can reach
// crhook, and the opt-in its crhook runtime entry gives.
func docker(l Line, o install.Options) Line {
	major, _, _ := majorMinor(l.Version)
	annotations := major >= dockerAnnotations
	how := "Docker " + l.Version + " speaks API 1.42 or older: no annotations reach a runtime"
	if annotations {
		how = "Docker " + l.Version + " passes --annotation to the runtime (API 1.43+)"
	}
	path, ok, err := install.DockerRuntime(o)
	switch {
	case err != nil:
		l.Status, l.Detail = StatusWarn, how+"; cannot read the crhook runtime entry: "+err.Error()
	case !ok:
		l.Status, l.Detail, l.Fix = StatusInfo, how+"; crhook is not installed for docker", "crhook install --for docker [--profile P]"
	case runtimeOptIn(path) != "":
		l.Status, l.Detail = StatusOK, how+"; runtime-level opt-in: --runtime crhook opts a container in with profile "+string(runtimeOptIn(path))+" ("+path+")"
	case annotations:
		l.Status, l.Detail = StatusOK, how+"; --runtime crhook with --annotation io.crhook.restore=true opts a container in ("+path+")"
	default:
		l.Status, l.Detail = StatusWarn, how+", and the crhook runtime ("+path+") opts in by annotation only, so no container can opt in"
		l.Fix = "crhook install --for docker [--profile P]"
	}
	return l
}

// engineRuntime finds the OCI runtime the engine at path runs containers
// with, and asks it its version: podman says it (podman info); the others'
// configs name it, or they take runc from PATH.
func engineRuntime(engine, path string, o install.Options) *Runtime {
	var name string
	var err error
	if engine == "podman" {
		var out string
		out, err = output(path, "info", "--format", "{{.Host.OCIRuntime.Path}}")
		name = strings.TrimSpace(out)
		if err != nil {
			err = fmt.Errorf("podman info: %s", lastLine(out, err))
		}
	} else {
		name, err = install.EngineRuntime(engine, o)
	}
	if err != nil {
		return &Runtime{Error: "cannot tell its runtime: " + err.Error()}
	}
	return describeRuntime(name)
}

// shimRuntime says which runtime crhook-runtime execs: the admin
// config's runtime, else runc from PATH.
func shimRuntime(configured string) Line {
	l := Line{Name: "crhook-runtime", Status: StatusOK, Detail: "execs the runtime the config names"}
	if configured == "" {
		l.Detail = "execs runc from PATH ($CRHOOK_RUNTIME, --runtime or the config's runtime name another)"
	}
	l.Runtime = describeRuntime(configured)
	if l.Runtime.Error != "" {
		l.Status, l.Fix = StatusWarn, "install runc, or set runtime in the crhook config"
	}
	return l
}

// describeRuntime finds the runtime program name ("" for runc) on PATH
// and asks its version.
func describeRuntime(name string) *Runtime {
	if name == "" {
		name = "runc"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return &Runtime{Path: name, Error: name + " is not found: " + err.Error()}
	}
	out, err := output(path, "--version")
	if err != nil {
		return &Runtime{Path: path, Error: path + " --version fails: " + lastLine(out, err)}
	}
	return &Runtime{Path: path, Version: versionPattern().FindString(out)}
}

// runtimeOptIn is the profile a runtime entry's binary name opts in with.
func runtimeOptIn(path string) spec.Profile {
	profile, _, _ := spec.RuntimeOptInOf(filepath.Base(path))
	return profile
}

func output(path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return last
	}
	return err.Error()
}

func majorMinor(v string) (int, int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}
