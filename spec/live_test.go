package spec

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/crhook/crhook/internal/proc"
)

func TestCheckLive(t *testing.T) {
	mountinfo, err := os.ReadFile("testdata/runc-mountinfo.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range liveCases(string(mountinfo)) {
		t.Run(tt.name, func(t *testing.T) { checkLiveCase(t, tt) })
	}
}

// liveCase is a container process as the hook finds it, and what
// CheckLive must say of it.
type liveCase struct {
	name        string
	profile     Profile
	allowShared bool
	// filterPending: the config installs a seccomp filter the runtime
	// has not installed yet.
	filterPending bool
	// refuseSeccomp: the admin's checkpoint_seccomp = "refuse".
	refuseSeccomp bool
	status        proc.Status
	mountinfo     string
	want          []error
	wantText      string
}

// liveCases vary the credentials and the mounts of runc's container,
// whose mountinfo is given.
func liveCases(mountinfo string) []liveCase {
	const cr = uint64(1) << CapCheckpointRestoreNumber
	// NSpid: pid 4242 on the host, 1 in the container's own namespace.
	granted := proc.Status{UID: 1000, Inheritable: cr, Permitted: cr, Effective: cr, Bounding: cr | 0x20000420, Ambient: cr, NSpid: []int{4242, 1}}
	withoutAmbient := granted
	withoutAmbient.Ambient = 0
	root := proc.Status{UID: 0, Permitted: cr, Effective: cr, Bounding: cr, NSpid: []int{4242, 1}}
	checkpoint := granted
	checkpoint.Bounding |= 1<<8 | 1<<19
	checkpoint.Permitted |= 1<<8 | 1<<19
	checkpoint.Effective |= 1<<8 | 1<<19
	checkpoint.Inheritable |= 1<<8 | 1<<19
	checkpoint.Ambient |= 1<<8 | 1<<19
	filtered := checkpoint
	filtered.Seccomp = 2
	hostPID := func(s proc.Status) proc.Status { s.NSpid = []int{42}; return s }
	podPID := func(s proc.Status) proc.Status { s.NSpid = []int{4242, 7}; return s }
	writable := strings.ReplaceAll(mountinfo, "/sys /proc/sys ro,", "/sys /proc/sys rw,")
	return []liveCase{
		{name: "uid 1000 granted, /proc/sys read-only", status: granted, mountinfo: mountinfo},
		{name: "root needs no ambient", status: root, mountinfo: mountinfo},
		{name: "ambient dropped", status: withoutAmbient, mountinfo: mountinfo, want: []error{ErrNotHeld}, wantText: "lacks CAP_CHECKPOINT_RESTORE in ambient"},
		{name: "/proc/sys read-write", status: granted, mountinfo: writable, want: []error{ErrProcSysLive}, wantText: `pid 42 sees a writable sys at "/proc/sys" (mount 47, proc)`},
		{name: "both", status: withoutAmbient, mountinfo: writable, want: []error{ErrNotHeld, ErrProcSysLive}},
		{name: "checkpoint without a filter", profile: ProfileCheckpoint, status: checkpoint, mountinfo: mountinfo},
		{name: "checkpoint holding only CAP_CHECKPOINT_RESTORE", profile: ProfileCheckpoint, status: granted, mountinfo: mountinfo,
			want: []error{ErrNotHeld}, wantText: "lacks CAP_SETPCAP, CAP_SYS_PTRACE in bounding, effective, permitted, inheritable, ambient"},
		{name: "checkpoint under a filter, refused", profile: ProfileCheckpoint, refuseSeccomp: true, status: filtered, mountinfo: mountinfo, want: []error{ErrSeccompDump}, wantText: "seccomp mode 2"},
		{name: "checkpoint under a filter, kept", profile: ProfileCheckpoint, status: filtered, mountinfo: mountinfo},
		{name: "checkpoint before crun installs the config's filter", profile: ProfileCheckpoint, refuseSeccomp: true, status: checkpoint, filterPending: true, mountinfo: mountinfo,
			want: []error{ErrSeccompDump}, wantText: "gets the seccomp filter of its config (linux.seccomp) when the runtime execs it"},
		{name: "minimal before the config's filter is fine", status: granted, filterPending: true, mountinfo: mountinfo},
		{name: "minimal under a filter is fine", status: func() proc.Status { s := granted; s.Seccomp = 2; return s }(), mountinfo: mountinfo},
		{name: "the host's procfs bound elsewhere", status: granted, mountinfo: mountinfo + "90 65 0:22 / /hostproc rw,relatime - proc proc rw\n",
			want: []error{ErrProcSysLive}, wantText: `pid 42 sees a writable sys at "/hostproc/sys" (mount 90, proc)`},
		{name: "a writable bind below /proc/sys", status: granted, mountinfo: mountinfo + "91 47 254:0 /srv/x /proc/sys/kernel/ns_last_pid rw,relatime - ext4 /dev/vda rw\n",
			want: []error{ErrProcSysLive}, wantText: `"/proc/sys/kernel/ns_last_pid" (mount 91, ext4) is read-write`},
		{name: "a procfs bind of sys/kernel", status: granted, mountinfo: mountinfo + "92 65 0:40 /sys/kernel /mnt/k rw,relatime - proc proc rw\n",
			want: []error{ErrProcSysLive}, wantText: `"/mnt/k" (mount 92, proc) is read-write`},
		{name: "a read-only second procfs is fine", status: granted, mountinfo: mountinfo + "93 65 0:48 / /mnt/proc ro,relatime - proc proc rw\n"},
		{name: "/proc/sys masked by a read-only tmpfs", status: granted, mountinfo: strings.ReplaceAll(mountinfo, "47 66 0:40 /sys /proc/sys ro,relatime - proc proc rw", "47 66 0:49 / /proc/sys ro,relatime - tmpfs tmpfs ro")},
		{name: "in the runtime's PID namespace", status: hostPID(granted), mountinfo: mountinfo, want: []error{ErrSharedPID}, wantText: "runs pid 42 as pid 42 of a PID namespace it did not create"},
		{name: "in the runtime's PID namespace, allowed", status: hostPID(granted), mountinfo: mountinfo, allowShared: true},
		{name: "in a pod's PID namespace", status: podPID(granted), mountinfo: mountinfo, want: []error{ErrSharedPID}, wantText: "as pid 7 of a PID namespace it did not create"},
		{name: "in a pod's PID namespace, allowed", status: podPID(granted), mountinfo: mountinfo, allowShared: true},
		{name: "checkpoint in the runtime's PID namespace, allowed", profile: ProfileCheckpoint, status: hostPID(checkpoint), mountinfo: mountinfo, allowShared: true,
			want: []error{ErrSharedPID}, wantText: "grants CAP_SYS_PTRACE, which crhook never grants in a PID namespace that is not the container's own new one"},
		{name: "checkpoint in a pod's PID namespace, allowed", profile: ProfileCheckpoint, status: podPID(checkpoint), mountinfo: mountinfo, allowShared: true,
			want: []error{ErrSharedPID}, wantText: "whatever allow_shared_pid_namespace says"},
		{name: "no NSpid line", status: func() proc.Status { s := granted; s.NSpid = nil; return s }(), mountinfo: mountinfo, allowShared: false,
			want: []error{ErrSharedPID}, wantText: "cannot be told"},
		{name: "no root mount", status: granted, mountinfo: "66 65 0:40 / /proc rw,relatime - proc proc rw\n", want: []error{ErrProcSysLive}, wantText: "no root mount"},
	}
}

// checkLiveCase runs CheckLive on tt's process as pid 42 and checks it
// refuses with every wanted error, saying wantText, or not at all.
func checkLiveCase(t *testing.T, tt liveCase) {
	t.Helper()
	if tt.profile == "" {
		tt.profile = ProfileMinimal
	}
	err := CheckLive(LiveProcess{PID: 42, Status: tt.status, Mounts: parseMounts(t, tt.mountinfo), FilterPending: tt.filterPending},
		Request{OptedIn: true, Profile: tt.profile, SharedPIDAllowed: tt.allowShared, CheckpointSeccomp: map[bool]CheckpointSeccompMode{true: CheckpointSeccompRefuse, false: CheckpointSeccompKeep}[tt.refuseSeccomp]})
	if len(tt.want) == 0 {
		if err != nil {
			t.Fatalf("unexpected refusal: %v", err)
		}
		return
	}
	for _, w := range tt.want {
		if !errors.Is(err, w) {
			t.Errorf("error %v is not %v", err, w)
		}
	}
	if err != nil && !strings.Contains(err.Error(), tt.wantText) {
		t.Errorf("error %q does not say %q", err, tt.wantText)
	}
}
