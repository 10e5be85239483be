package spec

import (
	"errors"
	"fmt"
	"slices"

	"github.com/crhook/crhook/internal/errkind"
)

// ProcSysMode says what to do with an opted-in spec whose /proc/sys is
// writable.
type ProcSysMode string

const (
	// ProcSysRefuse grants nothing and fails the container (the default):
	// crhook never changes a /proc/sys rule unless the admin says so.
	ProcSysRefuse ProcSysMode = "refuse"
	// ProcSysAddReadonly adds /proc/sys to linux.readonlyPaths, then grants.
	ProcSysAddReadonly ProcSysMode = "add-readonly"
)

// CheckpointSeccompMode says what to do with a container opted in with
// the checkpoint profile whose spec installs a seccomp filter. CRIU must
// suspend a task's filter to dump it (PTRACE_O_SUSPEND_SECCOMP), which
// the kernel allows only with CAP_SYS_ADMIN, so criu dump fails in such a
// container; criu restore works in it, and a dump taken under checkpoint
// can only be restored under checkpoint (its tasks hold the profile).
type CheckpointSeccompMode string

const (
	// CheckpointSeccompKeep grants and keeps the filter (the default): the
	// container can restore a checkpoint-profile dump under the engine's
	// default seccomp profile; a dump in it fails, which the log, poststart
	// and crhook verify say. A filter only takes from what the container
	// could do without one, which the checkpoint profile already allows.
	CheckpointSeccompKeep CheckpointSeccompMode = "keep"
	// CheckpointSeccompRefuse fails the container: for admins who want a
	// dump container's mistake caught at start.
	CheckpointSeccompRefuse CheckpointSeccompMode = "refuse"
	// CheckpointSeccompRemove drops the filter, an explicit weakening the
	// admin chose so that dumps work; every removal is logged.
	CheckpointSeccompRemove CheckpointSeccompMode = "remove"
)

// Policy is what the admin allows. The zero value is not valid; start from
// DefaultPolicy.
type Policy struct {
	// DefaultProfile applies when a container opts in without naming one.
	DefaultProfile Profile
	// AllowedProfiles are the profiles an annotation may select.
	AllowedProfiles []Profile
	// ProcSys decides what happens when /proc/sys is writable.
	ProcSys ProcSysMode
	// OpenClone3 lets clone3 through a seccomp profile that blocks it. When
	// false, such a container is refused instead.
	OpenClone3 bool
	// CheckpointSeccomp decides what happens to a checkpoint container
	// with a seccomp filter.
	CheckpointSeccomp CheckpointSeccompMode
	// AllowSharedPID grants to containers that share another PID
	// namespace (the host's, or one joined by path). Off by default:
	// there the capability reaches processes outside the container.
	AllowSharedPID bool
}

// DefaultPolicy is used when the admin wrote no config: the two profiles
// that add no ptrace power, refusal on writable /proc/sys, clone3 opened,
// a checkpoint container's seccomp filter kept.
func DefaultPolicy() Policy {
	return Policy{
		DefaultProfile:    ProfileMinimal,
		AllowedProfiles:   []Profile{ProfileMinimal, ProfileRestore},
		ProcSys:           ProcSysRefuse,
		OpenClone3:        true,
		CheckpointSeccomp: CheckpointSeccompKeep,
	}
}

// Validate reports a policy that names unknown profiles or modes, or whose
// default profile is not allowed.
func (p Policy) Validate() error {
	var errs []error
	for _, a := range p.AllowedProfiles {
		if _, err := ParseProfile(string(a)); err != nil {
			errs = append(errs, fmt.Errorf("allowed_profiles: %w", err))
		}
	}
	if _, err := ParseProfile(string(p.DefaultProfile)); err != nil {
		errs = append(errs, fmt.Errorf("default_profile: %w", err))
	} else if !p.Allows(p.DefaultProfile) {
		errs = append(errs, fmt.Errorf("default_profile %q is not in allowed_profiles", p.DefaultProfile))
	}
	switch p.ProcSys {
	case ProcSysRefuse, ProcSysAddReadonly:
	default:
		errs = append(errs, fmt.Errorf("proc_sys %s is not %q or %q", quote(string(p.ProcSys)), ProcSysRefuse, ProcSysAddReadonly))
	}
	switch p.CheckpointSeccomp {
	case CheckpointSeccompKeep, CheckpointSeccompRefuse, CheckpointSeccompRemove:
	default:
		errs = append(errs, fmt.Errorf("checkpoint_seccomp %s is not %q, %q or %q", quote(string(p.CheckpointSeccomp)),
			CheckpointSeccompKeep, CheckpointSeccompRefuse, CheckpointSeccompRemove))
	}
	return errkind.BadInput(errors.Join(errs...))
}

// Allows reports whether an annotation may select profile.
func (p Policy) Allows(profile Profile) bool {
	return slices.Contains(p.AllowedProfiles, profile)
}
