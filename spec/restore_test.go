package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Capability bits the restore tests use.
const (
	bitSetpcap   = 1 << 8
	bitSysPtrace = 1 << 19
	bitCR        = 1 << 40
	// runcDefault is runc spec's bounding set: AUDIT_WRITE, KILL,
	// NET_BIND_SERVICE.
	runcDefault = 1<<29 | 1<<5 | 1<<10
)

// profileCreds are the credentials of a uid 1000 process in a crhook
// container with profile p (every set holds the profile, ambient too).
func profileCreds(p Profile, nnp bool) Creds {
	caps := capMask(p.Capabilities())
	return Creds{
		UIDs: [4]uint32{1000, 1000, 1000, 1000}, GIDs: [4]uint32{1000, 1000, 1000, 1000}, Groups: []uint32{},
		Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps, Bounding: caps | runcDefault,
		NoNewPrivs: nnp,
	}
}

// droppedCreds are an app's after crhook drop-caps: nothing held,
// no_new_privs set, the bounding set as given (empty when the container
// held CAP_SETPCAP to drop it).
func droppedCreds(bounding uint64) Creds {
	c := profileCreds(ProfileMinimal, true)
	c.Effective, c.Permitted, c.Inheritable, c.Ambient, c.Bounding = 0, 0, 0, 0, bounding
	return c
}

func dumpOf(c Creds, pids ...int) Dump {
	var d Dump
	for _, p := range pids {
		d.Threads = append(d.Threads, DumpedThread{PID: p, Task: pids[0], Creds: c})
	}
	d.Files = []DumpedFile{{Path: "/bin/busybox", Size: 1982256, HasSize: true, Mode: 0o100755, HasMode: true, Read: true}}
	return d
}

func siteOf(c Creds) RestoreSite {
	return RestoreSite{
		Creds: c, CapLastCap: 40, PIDMax: 32768, Clone3: true,
		Files: map[string]FileState{"/bin/busybox": {Exists: true, Size: 1982256, Mode: 0o100755}},
	}
}

// restoreCase is a dump, the container it is restored in, and the
// blockers RestoreBlockers must find.
type restoreCase struct {
	name string
	dump Dump
	site RestoreSite
	// want lists a phrase of each blocker, in order; none means ok.
	want []string
}

func TestRestoreBlockers(t *testing.T) {
	tests := slices.Concat(restoreCapabilityCases(), restorePIDCases(), restoreIdentityAndFileCases())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRestoreBlockers(t, tt) })
	}
}

// restoreCapabilityCases pair dump and restore profiles, with and
// without no_new_privs.
func restoreCapabilityCases() []restoreCase {
	minimalNNP := profileCreds(ProfileMinimal, true)
	return []restoreCase{
		{name: "minimal dump, minimal restore, no_new_privs", dump: dumpOf(minimalNNP, 106, 130), site: siteOf(minimalNNP)},
		{name: "checkpoint dump, checkpoint restore", dump: dumpOf(profileCreds(ProfileCheckpoint, false), 106), site: siteOf(profileCreds(ProfileCheckpoint, true))},
		{name: "minimal dump, checkpoint restore (a later profile)", dump: dumpOf(minimalNNP, 106), site: siteOf(profileCreds(ProfileCheckpoint, true))},
		{
			name: "checkpoint dump, minimal restore",
			dump: dumpOf(profileCreds(ProfileCheckpoint, true), 106),
			site: siteOf(minimalNNP),
			want: []string{"holds CAP_SETPCAP, CAP_SYS_PTRACE, which this container lacks (criu: Unable to restore capabilities); restore under profile checkpoint"},
		},
		{
			name: "checkpoint dump, restore profile",
			dump: dumpOf(profileCreds(ProfileCheckpoint, true), 106),
			site: siteOf(profileCreds(ProfileRestore, true)),
			want: []string{"holds CAP_SYS_PTRACE, which this container lacks"},
		},
		{
			name: "dump without no_new_privs, minimal restore: the bounding trim needs CAP_SETPCAP",
			dump: dumpOf(profileCreds(ProfileMinimal, false), 106),
			site: siteOf(minimalNNP),
			want: []string{"had no no_new_privs, so criu must trim its bounding set (needs CAP_SETPCAP); restore under profile restore"},
		},
		{name: "dump without no_new_privs, restore profile", dump: dumpOf(profileCreds(ProfileMinimal, false), 106), site: siteOf(profileCreds(ProfileRestore, true))},
		{
			name: "checkpoint dump of an app started with drop-caps (bounding set dropped), minimal restore",
			dump: dumpOf(droppedCreds(0), 106), site: siteOf(minimalNNP),
		},
		{
			name: "checkpoint dump of an app started with drop-caps under minimal (bounding set kept), minimal restore",
			dump: dumpOf(droppedCreds(capMask(ProfileCheckpoint.Capabilities())|runcDefault), 106), site: siteOf(minimalNNP),
		},
		{
			name: "checkpoint dump, minimal restore: the fix names drop-caps",
			dump: dumpOf(profileCreds(ProfileCheckpoint, true), 106), site: siteOf(minimalNNP),
			want: []string{"or start the app with `crhook drop-caps --` so its dump holds none"},
		},
		{
			name: "checkpoint dump without no_new_privs, minimal restore: one fix for both",
			dump: dumpOf(profileCreds(ProfileCheckpoint, false), 106),
			site: siteOf(minimalNNP),
			want: []string{"trim its bounding set (needs CAP_SETPCAP), and holds CAP_SETPCAP, CAP_SYS_PTRACE, which this container lacks (criu: Unable to restore capabilities); restore under profile checkpoint"},
		},
	}
}

// restorePIDCases ask whether criu can give the tree its PIDs back:
// through clone3 or ns_last_pid, and only PIDs free and below pid_max.
func restorePIDCases() []restoreCase {
	minimalNNP := profileCreds(ProfileMinimal, true)
	return []restoreCase{
		{
			name: "no crhook in the restore container",
			dump: dumpOf(minimalNNP, 106),
			site: func() RestoreSite {
				s := siteOf(Creds{UIDs: minimalNNP.UIDs, GIDs: minimalNNP.GIDs, Groups: []uint32{}, Bounding: runcDefault})
				s.Clone3 = false
				return s
			}(),
			want: []string{"lacks CAP_CHECKPOINT_RESTORE", "seccomp blocks clone3 and /proc/sys is read-only", "holds CAP_CHECKPOINT_RESTORE, which this container lacks"},
		},
		{
			name: "capabilities by hand, seccomp untouched",
			dump: dumpOf(minimalNNP, 106),
			site: func() RestoreSite { s := siteOf(minimalNNP); s.Clone3 = false; return s }(),
			want: []string{"seccomp blocks clone3 and /proc/sys is read-only, so criu can set no PID"},
		},
		{
			name: "clone3 blocked but ns_last_pid writable: criu falls back and works",
			dump: dumpOf(minimalNNP, 106),
			site: func() RestoreSite { s := siteOf(minimalNNP); s.Clone3, s.NsLastPIDWritable = false, true; return s }(),
		},
		{
			name: "PIDs taken",
			dump: dumpOf(minimalNNP, 106, 130),
			site: func() RestoreSite { s := siteOf(minimalNNP); s.Taken = []int{106, 130}; return s }(),
			want: []string{"PID 106, 130 of the dump is taken here (criu fails with EEXIST)"},
		},
		{
			name: "PID above pid_max",
			dump: dumpOf(minimalNNP, 40000),
			site: siteOf(minimalNNP),
			want: []string{"PID 40000 is at or above this PID namespace's pid_max 32768"},
		},
	}
}

// restoreIdentityAndFileCases change the user, groups or files the
// dumped tree had.
func restoreIdentityAndFileCases() []restoreCase {
	minimalNNP := profileCreds(ProfileMinimal, true)
	connected := func(cs ...DumpedConnection) Dump { d := dumpOf(minimalNNP, 106); d.Connections = cs; return d }
	c1 := DumpedConnection{Local: "127.0.0.1:40000", Remote: "127.0.0.1:8080"}
	return []restoreCase{
		{name: "an established TCP connection needs CAP_NET_ADMIN", dump: connected(c1), site: siteOf(minimalNNP),
			want: []string{"the dump holds a connected TCP socket (127.0.0.1:40000 to 127.0.0.1:8080); criu restores a connected socket with TCP repair, which needs CAP_NET_ADMIN"}},
		{name: "many connections", dump: connected(c1, c1, c1, c1, c1, c1), site: siteOf(minimalNNP), want: []string{"6 connected TCP sockets (127.0.0.1:40000 to 127.0.0.1:8080, 127.0.0.1:40000 to 127.0.0.1:8080, 127.0.0.1:40000 to 127.0.0.1:8080, 127.0.0.1:40000 to 127.0.0.1:8080, and 2 more)"}},
		{name: "connections dumped with --tcp-close need nothing",
			dump: func() Dump { d := connected(c1); d.ConnectionsClosed = true; return d }(), site: siteOf(minimalNNP)},
		{name: "a connection where CAP_NET_ADMIN is held", dump: connected(c1),
			site: func() RestoreSite { c := minimalNNP; c.Effective |= 1 << 12; return siteOf(c) }()},
		{
			name: "other uid",
			dump: dumpOf(minimalNNP, 106),
			site: func() RestoreSite { c := minimalNNP; c.UIDs = [4]uint32{2000, 2000, 2000, 2000}; return siteOf(c) }(),
			want: []string{"ran as uid 1000 and this container runs as uid 2000 (changing it needs CAP_SETUID); run the restore as uid 1000"},
		},
		{
			name: "other groups",
			dump: dumpOf(minimalNNP, 106),
			site: func() RestoreSite { c := minimalNNP; c.Groups = []uint32{27}; return siteOf(c) }(),
			want: []string{"supplementary groups [] and this container has [27]"},
		},
		{
			name: "file missing, file resized, file with another mode, file not readable",
			dump: func() Dump {
				d := dumpOf(minimalNNP, 106)
				d.Files = append(d.Files,
					DumpedFile{Path: "/data/log", Size: 10, HasSize: true},
					DumpedFile{Path: "/data/db", Size: 10, HasSize: true},
					DumpedFile{Path: "/data/run", Mode: 0o100755, HasMode: true},
					DumpedFile{Path: "/data/secret", Read: true})
				return d
			}(),
			site: func() RestoreSite {
				s := siteOf(minimalNNP)
				s.Files["/data/db"] = FileState{Exists: true, Size: 12}
				s.Files["/data/run"] = FileState{Exists: true, Mode: 0o100644}
				s.Files["/data/secret"] = FileState{Exists: true, Err: "EACCES"}
				return s
			}(),
			want: []string{`file "/data/log", which the dumped tree had open, is missing here`, "has 12 bytes here and had 10", "has mode 0100644 here and had 0100755", "cannot be opened here as it was (EACCES)"},
		},
	}
}

// checkRestoreBlockers checks RestoreBlockers finds tt's blockers, in
// order, each one line.
func checkRestoreBlockers(t *testing.T, tt restoreCase) {
	t.Helper()
	got := RestoreBlockers(tt.dump, tt.site)
	if len(got) != len(tt.want) {
		t.Fatalf("got %d blockers, want %d:\n%s", len(got), len(tt.want), joinErrs(got))
	}
	for i, err := range got {
		if !errors.Is(err, ErrRestoreBlocked) || !strings.Contains(err.Error(), tt.want[i]) {
			t.Errorf("blocker %d = %q, want it to say %q", i, err, tt.want[i])
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("blocker spans lines: %q", err)
		}
	}
}

func TestProfileFixNamesTheSmallestProfile(t *testing.T) {
	tests := []struct {
		caps uint64
		want string
	}{
		{caps: bitCR, want: "profile minimal"},
		{caps: bitSetpcap, want: "profile restore"},
		{caps: bitSysPtrace, want: "profile checkpoint"},
		{caps: 1 << 21, want: "no crhook profile grants that"},
	}
	for _, tt := range tests {
		if got := profileFix(tt.caps); !strings.Contains(got, tt.want) {
			t.Errorf("profileFix(%#x) = %q, want %q", tt.caps, got, tt.want)
		}
	}
}

func joinErrs(errs []error) string {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

func TestHoldsNoCapability(t *testing.T) {
	tests := []struct {
		name string
		dump Dump
		want bool
	}{
		{name: "started with drop-caps", dump: dumpOf(droppedCreds(0), 106, 130), want: true},
		{name: "one thread holds minimal", dump: Dump{Threads: append(dumpOf(droppedCreds(0), 106).Threads, dumpOf(profileCreds(ProfileMinimal, true), 130).Threads...)}},
		{name: "an ambient capability alone", dump: dumpOf(func() Creds { c := droppedCreds(0); c.Ambient = 1 << 40; return c }(), 106)},
		{name: "no thread", dump: Dump{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.dump.HoldsNoCapability(); got != tt.want {
				t.Errorf("HoldsNoCapability = %v, want %v", got, tt.want)
			}
		})
	}
}
