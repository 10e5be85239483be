package spec

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
)

// ErrRestoreBlocked marks what would make `criu restore --unprivileged`
// fail in this container, found before CRIU runs.
var ErrRestoreBlocked = errors.New("restore blocked")

// Creds are one task's credentials as CRIU dumps and restores them
// (images/creds.proto), or the restorer's own.
type Creds struct {
	// UIDs and GIDs are real, effective, saved and filesystem ids.
	UIDs, GIDs [4]uint32
	Groups     []uint32
	// Capability sets, bit n for capability n.
	Effective, Permitted, Inheritable, Bounding, Ambient uint64
	Secbits                                              uint32
	NoNewPrivs                                           bool
}

// DumpedThread is one thread of a dumped process.
type DumpedThread struct {
	// PID is the thread's id and Task its process's, in the dump's PID
	// namespace; CRIU recreates both at these numbers.
	PID, Task int
	Creds     Creds
}

// DumpedFile is a regular file the dumped tree had open or mapped, which
// CRIU reopens by path and checks (criu/files-reg.c validate_file).
type DumpedFile struct {
	Path    string
	Size    uint64
	HasSize bool
	Mode    uint32
	HasMode bool
	// Read and Write are the access the file was open with.
	Read, Write bool
}

// DumpedConnection is a TCP socket the dumped tree held with a peer,
// which CRIU restores with TCP repair.
type DumpedConnection struct {
	// Local and Remote are "address:port".
	Local, Remote string
}

// Dump is what the restore preflight needs from a CRIU image directory.
type Dump struct {
	Threads     []DumpedThread
	Files       []DumpedFile
	Connections []DumpedConnection
	// ConnectionsClosed is criu dump --tcp-close: criu restore then shuts
	// the connections down instead of repairing them.
	ConnectionsClosed bool
}

// PIDs returns every thread id of the dump, in image order.
func (d Dump) PIDs() []int {
	pids := make([]int, len(d.Threads))
	for i, t := range d.Threads {
		pids[i] = t.PID
	}
	return pids
}

// FileState is what the restore container has at a dumped file's path.
type FileState struct {
	Exists bool
	Size   uint64
	Mode   uint32
	// Err, when set, says why the file cannot be opened as it was open
	// in the dump ("EACCES").
	Err string
}

// RestoreSite is the container a restore would run in, as seen by a
// process started the way criu will be (same user, same capabilities).
type RestoreSite struct {
	Creds      Creds
	CapLastCap int
	PIDMax     int
	// Taken holds the dump's PIDs that a live process holds here.
	Taken []int
	// Files maps each dumped file's path to what is there now.
	Files map[string]FileState
	// Clone3 says clone3 reaches the kernel (seccomp lets it through).
	Clone3 bool
	// NsLastPIDWritable says writing /proc/sys/kernel/ns_last_pid works.
	NsLastPIDWritable bool
}

// RestoreBlockers lists, in the order CRIU 4.2 meets them, what would
// make `criu restore --unprivileged` of d fail at site. Each entry is one
// sentence naming the cause and the fix; none means the restore can work
// (as far as crhook can tell: memory, sockets and the rest are CRIU's).
func RestoreBlockers(d Dump, site RestoreSite) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrRestoreBlocked}, args...)...))
	}
	if !has(site.Creds.Effective, capability.CAP_CHECKPOINT_RESTORE) && !has(site.Creds.Effective, capability.CAP_SYS_ADMIN) {
		add("this container lacks %s (criu refuses to start); opt it in with crhook (%s=true)", CapCheckpointRestore, AnnotationRestore)
	}
	if !site.Clone3 && !site.NsLastPIDWritable {
		add("seccomp blocks clone3 and /proc/sys is read-only, so criu can set no PID (it falls back to ns_last_pid and fails); opt the container in with crhook, which lets clone3 through")
	}
	errs = append(errs, pidBlockers(d, site)...)
	errs = append(errs, credsBlockers(d, site)...)
	errs = append(errs, fileBlockers(d, site)...)
	if len(d.Connections) > 0 && !d.ConnectionsClosed && !has(site.Creds.Effective, capability.CAP_NET_ADMIN) {
		add("the dump holds %s; criu restores a connected socket with TCP repair, which needs %s, and crhook grants it to no profile; "+
			"let the app close its connections before the dump (or dump and restore with --tcp-close) and reconnect after the restore", connectionList(d.Connections), "CAP_NET_ADMIN")
	}
	return errs
}

// connectionList renders up to 4 connections, then how many more.
func connectionList(cs []DumpedConnection) string {
	const shown = 4
	var parts []string
	for i, c := range cs {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-shown))
			break
		}
		parts = append(parts, c.Local+" to "+c.Remote)
	}
	noun := "a connected TCP socket"
	if len(cs) > 1 {
		noun = fmt.Sprintf("%d connected TCP sockets", len(cs))
	}
	return noun + " (" + strings.Join(parts, ", ") + ")"
}

func pidBlockers(d Dump, site RestoreSite) []error {
	var errs []error
	if len(site.Taken) > 0 {
		errs = append(errs, fmt.Errorf("%w: PID %s of the dump is taken here (criu fails with EEXIST); restore in a fresh container, or stop what runs there",
			ErrRestoreBlocked, intList(site.Taken)))
	}
	var high []int
	for _, pid := range d.PIDs() {
		if site.PIDMax > 0 && pid >= site.PIDMax {
			high = append(high, pid)
		}
	}
	if len(high) > 0 {
		errs = append(errs, fmt.Errorf("%w: PID %s is at or above this PID namespace's pid_max %d; raise kernel.pid_max above %d on the host (sysctl -w kernel.pid_max=%d)",
			ErrRestoreBlocked, intList(high), site.PIDMax, slices.Max(high), slices.Max(high)+1))
	}
	return errs
}

// credsBlockers follows CRIU's restorer (criu/pie/restorer.c
// restore_creds): ids are set only when they differ, the bounding set is
// trimmed with PR_CAPBSET_DROP, then capset and the ambient raises. The
// first failing thread is reported; one thread's fix is every thread's.
func credsBlockers(d Dump, site RestoreSite) []error {
	for _, t := range d.Threads {
		if reasons := credsReasons(t.Creds, site); len(reasons) > 0 {
			return []error{fmt.Errorf("%w: dumped task %d %s", ErrRestoreBlocked, t.Task, strings.Join(reasons, "; and "))}
		}
	}
	return nil
}

func credsReasons(dumped Creds, site RestoreSite) []string {
	here := site.Creds
	var reasons []string
	if dumped.UIDs != here.UIDs && !has(here.Effective, capability.CAP_SETUID) {
		reasons = append(reasons, fmt.Sprintf("ran as uid %d and this container runs as uid %d (changing it needs CAP_SETUID); run the restore as uid %d", dumped.UIDs[1], here.UIDs[1], dumped.UIDs[1]))
	}
	if dumped.GIDs != here.GIDs && !has(here.Effective, capability.CAP_SETGID) {
		reasons = append(reasons, fmt.Sprintf("ran as gid %d and this container runs as gid %d (changing it needs CAP_SETGID); run the restore as gid %d", dumped.GIDs[1], here.GIDs[1], dumped.GIDs[1]))
	}
	if !slices.Equal(dumped.Groups, here.Groups) && !has(here.Effective, capability.CAP_SETGID) {
		reasons = append(reasons, fmt.Sprintf("had supplementary groups [%s] and this container has [%s] (setgroups needs CAP_SETGID); run the restore with the same groups",
			uintList(dumped.Groups), uintList(here.Groups)))
	}
	if causes, need := capabilityCauses(dumped, site); len(causes) > 0 {
		reasons = append(reasons, strings.Join(causes, ", and ")+"; "+profileFix(need))
	}
	return reasons
}

// capabilityCauses lists why the restorer's capability steps would fail
// and the capabilities the restore container must hold instead: the
// securebits, the bounding-set trim, then capset.
func capabilityCauses(dumped Creds, site RestoreSite) (causes []string, need uint64) {
	here := site.Creds
	setpcap := has(here.Effective, capability.CAP_SETPCAP)
	if !setpcap && dumped.Secbits != here.Secbits {
		causes = append(causes, fmt.Sprintf("had securebits %#x and this container %#x (changing them needs CAP_SETPCAP)", dumped.Secbits, here.Secbits))
		need |= 1 << capability.CAP_SETPCAP
	}
	if c := boundingCause(dumped, site.CapLastCap, setpcap); c != "" {
		causes = append(causes, c)
		need |= 1 << capability.CAP_SETPCAP
	}
	if missing := dumped.Permitted &^ here.Permitted; missing != 0 {
		causes = append(causes, "holds "+capNames(missing)+", which this container lacks (criu: Unable to restore capabilities)")
		need |= missing
	} else if missing := inheritableMissing(dumped, here, setpcap); missing != 0 {
		causes = append(causes, "has "+capNames(missing)+" inheritable, which this container cannot give it")
		need |= missing
	}
	return causes, need
}

// boundingCause: the restorer drops every capability up to cap_last_cap
// that the dumped bounding set lacks. Without CAP_SETPCAP each drop fails,
// which CRIU forgives only when the task had no_new_privs and the
// capability is not in its permitted set.
func boundingCause(dumped Creds, capLastCap int, setpcap bool) string {
	drops := lowMask(capLastCap) &^ dumped.Bounding
	switch {
	case setpcap || drops == 0:
		return ""
	case !dumped.NoNewPrivs:
		return "had no no_new_privs, so criu must trim its bounding set (needs CAP_SETPCAP)"
	case drops&dumped.Permitted != 0:
		return "holds " + capNames(drops&dumped.Permitted) + " outside its bounding set (dropping them needs CAP_SETPCAP)"
	}
	return ""
}

// inheritableMissing applies capset's rules for the inheritable set: it
// may only gain what the caller holds in inheritable or permitted (unless
// it has CAP_SETPCAP), and never beyond the bounding set.
func inheritableMissing(dumped, here Creds, setpcap bool) uint64 {
	allowed := here.Inheritable | here.Bounding
	if !setpcap {
		allowed = here.Inheritable | here.Permitted
	}
	return dumped.Inheritable &^ allowed
}

// profileFix names the smallest crhook profile granting caps, or says no
// profile does.
func profileFix(caps uint64) string {
	const dropCaps = "or start the app with `crhook drop-caps --` so its dump holds none"
	for _, p := range Profiles {
		if caps&^capMask(p.Capabilities()) == 0 {
			return "restore under profile " + string(p) + " (the dump's profile or a later one), " + dropCaps
		}
	}
	return "no crhook profile grants that; dump the tree in a container that does not hold it, " + dropCaps
}

// HoldsNoCapability reports whether every dumped thread holds nothing in
// its effective, permitted, inheritable and ambient sets, as an app
// started with `crhook drop-caps` does: its dump restores under any
// profile.
func (d Dump) HoldsNoCapability() bool {
	for _, t := range d.Threads {
		c := t.Creds
		if c.Effective|c.Permitted|c.Inheritable|c.Ambient != 0 {
			return false
		}
	}
	return len(d.Threads) > 0
}

func fileBlockers(d Dump, site RestoreSite) []error {
	var errs []error
	said := map[string]bool{}
	for _, f := range d.Files {
		if said[f.Path] {
			continue // several tasks had it open: one line says it
		}
		st := site.Files[f.Path]
		var why string
		switch {
		case !st.Exists:
			why = "is missing here"
		case st.Err != "":
			why = "cannot be opened here as it was (" + st.Err + ")"
		case f.HasSize && st.Size != f.Size:
			why = fmt.Sprintf("has %d bytes here and had %d (criu: File has bad size)", st.Size, f.Size)
		case f.HasMode && st.Mode != f.Mode:
			why = fmt.Sprintf("has mode %#o here and had %#o (criu: File has bad mode)", st.Mode, f.Mode)
		default:
			continue
		}
		said[f.Path] = true
		errs = append(errs, fmt.Errorf("%w: file %s, which the dumped tree had open, %s; restore with the same files at the same paths", ErrRestoreBlocked, quote(f.Path), why))
	}
	return errs
}

func has(mask uint64, c capability.Cap) bool { return mask&(1<<uint(c)) != 0 }

// lowMask has bits 0..last set.
func lowMask(last int) uint64 {
	if last >= 63 {
		return ^uint64(0)
	}
	if last < 0 {
		return 0
	}
	return 1<<uint(last+1) - 1
}

func capMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == n {
				m |= 1 << uint(c)
			}
		}
	}
	return m
}

// capNames renders a mask as "CAP_SETPCAP, CAP_SYS_PTRACE".
func capNames(mask uint64) string {
	var names []string
	for mask != 0 {
		n := bits.TrailingZeros64(mask)
		mask &^= 1 << uint(n)
		names = append(names, capName(n))
	}
	return strings.Join(names, ", ")
}

func capName(n int) string {
	for _, c := range capability.ListKnown() {
		if int(c) == n {
			return "CAP_" + strings.ToUpper(c.String())
		}
	}
	return fmt.Sprintf("capability %d", n)
}

// intList renders up to 8 numbers, then how many more.
func intList(ns []int) string {
	const shown = 8
	parts := make([]string, 0, shown+1)
	for i, n := range ns {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ns)-shown))
			break
		}
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, ", ")
}

func uintList(ns []uint32) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " ")
}
