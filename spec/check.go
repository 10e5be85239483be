package spec

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// ErrCapabilitiesMissing and ErrKernelTooOld mark the remaining refusals.
var (
	ErrCapabilitiesMissing = errors.New("capabilities missing")
	ErrKernelTooOld        = errors.New("kernel lacks CAP_CHECKPOINT_RESTORE")
)

// Host is what the checks need to know about the machine.
type Host struct {
	// CapLastCap is /proc/sys/kernel/cap_last_cap.
	CapLastCap int
	// Sources resolves bind sources on the host.
	Sources Sources
}

// Check is one createRuntime check of an opted-in container's config.
type Check func(s *specs.Spec, req Request, host Host) error

// Checks run in order; adding a check is one function and one line here.
var Checks = []Check{
	checkKernel,
	checkProcess,
	checkCapabilities,
	checkProcSys,
	checkClone3,
	checkSeccompDump,
	checkPIDNamespace,
}

// Verify runs every check and joins all failures, so one run tells the
// user everything to fix. Missing capabilities are left out when
// /proc/sys is writable: crhook withheld them for that reason, and the
// user has one thing to fix, not two.
func Verify(s *specs.Spec, req Request, host Host) error {
	var errs []error
	procSysWritable := false
	for _, check := range Checks {
		err := check(s, req, host)
		procSysWritable = procSysWritable || errors.Is(err, ErrProcSysWritable)
		errs = append(errs, err)
	}
	if procSysWritable {
		errs = slices.DeleteFunc(errs, func(err error) bool { return errors.Is(err, ErrCapabilitiesMissing) })
	}
	return errors.Join(errs...)
}

func checkKernel(_ *specs.Spec, _ Request, host Host) error {
	if host.CapLastCap < CapCheckpointRestoreNumber {
		return fmt.Errorf("%w: cap_last_cap is %d, it needs %d (Linux 5.9 or newer)", ErrKernelTooOld, host.CapLastCap, CapCheckpointRestoreNumber)
	}
	return nil
}

func checkProcess(s *specs.Spec, _ Request, _ Host) error {
	if s.Process == nil {
		return errkind.BadInput(errors.New("spec has no process"))
	}
	return nil
}

func checkCapabilities(s *specs.Spec, req Request, _ Host) error {
	if s.Process == nil {
		return nil
	}
	gaps := MissingCapabilities(s.Process.Capabilities, s.Process.User.UID, req.Profile.Capabilities())
	if len(gaps) == 0 {
		return nil
	}
	return fmt.Errorf("%w for profile %q as uid %d: %s; adjust the spec before create (crhook precreate, crhook patch or crhook-runtime)",
		ErrCapabilitiesMissing, req.Profile, s.Process.User.UID, describeGaps(gaps))
}

func checkProcSys(s *specs.Spec, _ Request, host Host) error {
	if ProcSysRule(s, host.Sources) != "" {
		return nil
	}
	return procSysRefusal(s, host.Sources, "crhook refuses to start the container")
}

func checkClone3(s *specs.Spec, _ Request, _ Host) error {
	var sc *specs.LinuxSeccomp
	if s.Linux != nil {
		sc = s.Linux.Seccomp
	}
	if v := Clone3Verdict(sc); !v.Allowed {
		return fmt.Errorf("%w: %s; allow clone3 in the seccomp profile or adjust the spec with crhook", ErrClone3Blocked, v.Why)
	}
	return nil
}

func checkSeccompDump(s *specs.Spec, req Request, _ Host) error {
	if checkpointFiltered(s, req) && req.CheckpointSeccomp == CheckpointSeccompRefuse {
		return seccompDumpRefusal()
	}
	return nil
}

// checkpointFiltered says s is a checkpoint container under a seccomp
// filter.
func checkpointFiltered(s *specs.Spec, req Request) bool {
	return req.Profile == ProfileCheckpoint && s.Linux != nil && InstallsFilter(s.Linux.Seccomp)
}

func checkPIDNamespace(s *specs.Spec, req Request, _ Host) error {
	_, err := checkSharedPID(sharedPIDNamespace(s), req)
	return err
}
