package hook

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/internal/proc"
	"github.com/crhook/crhook/spec"
)

// Poststart checks the running container: its process really holds the
// profile's capabilities (runtimes silently drop ones they or the kernel
// do not know), and /proc/sys is mounted read-only in its mount
// namespace. A process that already exited is a warning, not a failure.
//
// On failure it also kills the container's process. runc does that for a
// failing poststart hook, but the OCI spec only asks runtimes to log it,
// and crun does only that; killing it here makes the outcome the same
// under every runtime. A pidfd taken before the checks makes sure the
// signal reaches that process and never one that reused its PID.
func Poststart(env Env) (Outcome, error) {
	st, out, proceed, err := readCheckState(env)
	if err != nil || !proceed {
		return out, err
	}
	if st.Pid == 0 {
		return out, errkind.BadInput(errors.New("state has no pid"))
	}
	req, err := spec.ResolveRequest(st.Annotations, env.Config.Policy)
	if err != nil || !req.OptedIn {
		return out, err
	}
	out.granted(req)
	pidfd, pidfdErr := unix.PidfdOpen(st.Pid, 0)
	if errors.Is(pidfdErr, unix.ESRCH) {
		out.Warning = fmt.Sprintf("process %d exited before it could be checked", st.Pid)
		return out, nil
	}
	if pidfdErr == nil {
		defer unix.Close(pidfd)
	}
	err = checkLive(st, req, &out)
	if errors.Is(err, proc.ErrGone) {
		out.Warning = fmt.Sprintf("process %d exited before it could be checked", st.Pid)
		return out, nil
	}
	if err != nil && pidfdErr == nil {
		if killErr := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); killErr == nil {
			err = fmt.Errorf("%w; crhook killed pid %d", err, st.Pid)
		}
	}
	return out, err
}

// configInstallsFilter reads the bundle's config.json: does it install a
// seccomp filter?
func configInstallsFilter(bundle string) (bool, error) {
	raw, err := readBundleConfig(bundle)
	if err != nil {
		return false, err
	}
	s, err := spec.Parse(raw)
	if err != nil {
		return false, err
	}
	return s.Linux != nil && spec.InstallsFilter(s.Linux.Seccomp), nil
}

// checkLive reads the process's status, mounts and PID namespace and
// asks spec whether they are what the request promised; an admin
// exception it relied on goes into out's notes. Each live check must
// mean what it says on every runtime: runc runs poststart while the
// process is still its init, before exec, with its seccomp filter, mounts
// and capabilities in place; crun may run it before it installs the
// filter, so for the profile that cannot run under one, the config says
// whether one is coming.
func checkLive(st *specs.State, req spec.Request, out *Outcome) error {
	pid := st.Pid
	status, err := proc.ReadStatus(pid)
	if err != nil {
		return err
	}
	mounts, err := proc.ReadMounts(pid)
	if err != nil {
		return err
	}
	live := spec.LiveProcess{PID: pid, Status: status, Mounts: mounts}
	if req.Profile == spec.ProfileCheckpoint && status.Seccomp == 0 {
		if live.FilterPending, err = configInstallsFilter(st.Bundle); err != nil {
			return err
		}
	}
	out.Notes = spec.LiveNotes(live, req)
	return spec.CheckLive(live, req)
}
