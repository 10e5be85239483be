package verify

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/crhook/crhook/internal/probe"
	"github.com/crhook/crhook/internal/proc"
	"github.com/crhook/crhook/spec"
)

// Restore is the preflight's part of the report: the dump it read and
// what would stop `criu restore --unprivileged` of it here.
type Restore struct {
	Images string `json:"images"`
	// PIDs are the dumped tasks' and threads' PIDs, which CRIU recreates.
	PIDs []int `json:"pids"`
	// Blockers are one sentence each, cause and fix; empty when the
	// restore can work here.
	Blockers []string `json:"blockers"`
}

// restorePreflight checks the dump read from dir against this container,
// as the criu that runs next (same user, same capabilities) will meet it.
func restorePreflight(dir string, dump spec.Dump) (Restore, Check) {
	r := Restore{Images: dir, PIDs: dump.PIDs(), Blockers: []string{}}
	c := Check{Name: "restore_images"}
	site, err := restoreSite(dump)
	if err != nil {
		c.Status, c.Detail = StatusFail, err.Error()
		r.Blockers = append(r.Blockers, c.Detail)
		return r, c
	}
	for _, b := range spec.RestoreBlockers(dump, site) {
		r.Blockers = append(r.Blockers, strings.TrimPrefix(b.Error(), spec.ErrRestoreBlocked.Error()+": "))
	}
	if len(r.Blockers) == 0 {
		c.Status = StatusOK
		c.Detail = fmt.Sprintf("%d thread(s) at PIDs %s; PIDs free, credentials and files as the dump needs", len(r.PIDs), pidsText(r.PIDs))
		if dump.HoldsNoCapability() {
			c.Detail += "; the dumped tasks hold no capability (crhook drop-caps), so any crhook profile restores them"
		}
		return r, c
	}
	c.Status, c.Detail = StatusFail, strings.Join(r.Blockers, "; ")
	return r, c
}

// restoreSite reads this process's credentials and the state of the
// PIDs and files the dump needs.
func restoreSite(dump spec.Dump) (spec.RestoreSite, error) {
	st, err := proc.ReadStatus(os.Getpid())
	if err != nil {
		return spec.RestoreSite{}, fmt.Errorf("read own status: %w", err)
	}
	secbits, err := probe.Securebits()
	if err != nil {
		return spec.RestoreSite{}, fmt.Errorf("read own securebits: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return spec.RestoreSite{}, fmt.Errorf("read cap_last_cap: %w", err)
	}
	pidMax, err := probe.PIDMax()
	if err != nil {
		return spec.RestoreSite{}, err
	}
	site := spec.RestoreSite{
		Creds: spec.Creds{
			UIDs: st.UIDs, GIDs: st.GIDs, Groups: st.Groups,
			Effective: st.Effective, Permitted: st.Permitted, Inheritable: st.Inheritable, Bounding: st.Bounding, Ambient: st.Ambient,
			Secbits: secbits, NoNewPrivs: st.NoNewPrivs,
		},
		CapLastCap:        int(last),
		PIDMax:            pidMax,
		Files:             map[string]spec.FileState{},
		Clone3:            probe.Clone3Seccomp() == nil,
		NsLastPIDWritable: probe.WriteNsLastPID() == nil,
	}
	// This process is gone by the time criu runs: its own PID, and its
	// threads' (a Go program runs several), are no collision. In a fresh
	// container they are the low PIDs a dump's tree often holds.
	own := ownThreads()
	for _, pid := range dump.PIDs() {
		if !own[pid] && probe.Taken(pid) {
			site.Taken = append(site.Taken, pid)
		}
	}
	// Tasks share files (each maps the same binary): each path is checked
	// once per access it was open with, and its first error sticks.
	type access struct {
		path        string
		read, write bool
	}
	checked := map[access]bool{}
	for _, f := range dump.Files {
		if a := (access{f.Path, f.Read, f.Write}); !checked[a] {
			checked[a] = true
			if st, seen := site.Files[f.Path]; !seen || st.Err == "" {
				site.Files[f.Path] = fileState(f)
			}
		}
	}
	return site, nil
}

// ownThreads are the IDs of this process's threads, its PID among them.
func ownThreads() map[int]bool {
	own := map[int]bool{os.Getpid(): true}
	entries, _ := os.ReadDir("/proc/self/task")
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			own[tid] = true
		}
	}
	return own
}

// fileState stats f's path as criu will open it: following links, with
// the raw st_mode CRIU compares, and the access the dump had it open with.
func fileState(f spec.DumpedFile) spec.FileState {
	var st unix.Stat_t
	if err := unix.Stat(f.Path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return spec.FileState{}
		}
		return spec.FileState{Exists: true, Err: probe.ErrnoName(err)}
	}
	state := spec.FileState{Exists: true, Size: uint64(st.Size), Mode: st.Mode}
	var mode uint32
	if f.Read {
		mode |= unix.R_OK
	}
	if f.Write {
		mode |= unix.W_OK
	}
	if mode != 0 {
		if err := unix.Faccessat(unix.AT_FDCWD, f.Path, mode, unix.AT_EACCESS); err != nil {
			state.Err = probe.ErrnoName(err)
		}
	}
	return state
}

func pidsText(pids []int) string {
	parts := make([]string, 0, len(pids))
	for i, p := range pids {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(pids)-8))
			break
		}
		parts = append(parts, fmt.Sprint(p))
	}
	return strings.Join(parts, ",")
}
