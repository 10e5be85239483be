package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crhook/crhook/internal/errkind"
)

// Profile names a fixed set of capabilities an opted-in container may get.
// Profiles never contain CAP_SYS_ADMIN: that is the point of crhook.
type Profile string

const (
	// ProfileMinimal grants only CAP_CHECKPOINT_RESTORE: enough to place
	// processes at chosen PIDs with clone3 set_tid.
	ProfileMinimal Profile = "minimal"
	// ProfileRestore adds CAP_SETPCAP, because CRIU's restorer trims the
	// bounding set of the processes it restores.
	ProfileRestore Profile = "restore"
	// ProfileCheckpoint adds CAP_SYS_PTRACE, needed to dump processes from
	// inside the container.
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
		return []string{CapCheckpointRestore, "CAP_SYS_PTRACE"}
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
