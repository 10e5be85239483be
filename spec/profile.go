package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crhook/crhook/internal/errkind"
)

// Profile names a fixed set of capabilities an opted-in container may get.
// Profiles never contain CAP_SYS_ADMIN: that is the point of crhook.
//
// Profiles nest: each holds every capability of the ones before it. The
// grant reaches every process of the container (the ambient set is how a
// non-root process keeps a capability across exec), so the processes
// CRIU dumps hold their container's profile, and CRIU's restorer cannot
// give a task a capability it lacks itself. A dump therefore restores
// under its own profile or a later one, and nesting makes "later" mean
// "more".
type Profile string

const (
	// ProfileMinimal grants only CAP_CHECKPOINT_RESTORE: enough to place
	// processes at chosen PIDs with clone3 set_tid, and for CRIU to dump
	// and restore a same-uid tree whose tasks had no_new_privs, on a host
	// whose Yama (if any) lets a process trace its own uid.
	ProfileMinimal Profile = "minimal"
	// ProfileRestore adds CAP_SETPCAP: CRIU's restorer trims the bounding
	// set, which needs it unless the dumped tasks had no_new_privs.
	ProfileRestore Profile = "restore"
	// ProfileCheckpoint adds CAP_SYS_PTRACE, which CRIU needs to dump
	// processes it did not start where Yama's ptrace_scope is 1 or more.
	// Dumping also needs the container to run without a seccomp filter.
	ProfileCheckpoint Profile = "checkpoint"
)

// CapCheckpointRestore is the capability crhook exists to grant (Linux 5.9+).
const CapCheckpointRestore = "CAP_CHECKPOINT_RESTORE"

// CapCheckpointRestoreNumber is its number; the kernel knows it when
// /proc/sys/kernel/cap_last_cap is at least this.
const CapCheckpointRestoreNumber = 40

// Profiles lists every profile, from least to most privilege.
var Profiles = []Profile{ProfileMinimal, ProfileRestore, ProfileCheckpoint}

// Capabilities returns the capability names the profile grants.
func (p Profile) Capabilities() []string {
	switch p {
	case ProfileMinimal:
		return []string{CapCheckpointRestore}
	case ProfileRestore:
		return []string{CapCheckpointRestore, "CAP_SETPCAP"}
	case ProfileCheckpoint:
		return []string{CapCheckpointRestore, "CAP_SETPCAP", "CAP_SYS_PTRACE"}
	}
	return nil
}

// ParseProfile returns the profile called name, or a bad-input error that
// lists the valid names.
func ParseProfile(name string) (Profile, error) {
	p := Profile(name)
	if slices.Contains(Profiles, p) {
		return p, nil
	}
	return "", errkind.BadInput(fmt.Errorf("profile %s is not one of %s", quote(name), profileList(Profiles)))
}

func profileList(ps []Profile) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// quote shows a value the user supplied, cut short so a huge or hostile
// annotation cannot flood a one-line error.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}
