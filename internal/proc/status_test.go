package proc

import (
	"errors"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

const capCheckpointRestore = 40

func TestParseStatus(t *testing.T) {
	real, err := os.ReadFile("testdata/runc-root-status.txt")
	if err != nil {
		t.Fatal(err)
	}
	base := "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1001\t1000\t1000\nGroups:\t4 27 \nCapInh:\t0000010000000000\nCapPrm:\t0000010000000000\n" +
		"CapEff:\t0000010000000000\nCapBnd:\t00000100000000c0\nCapAmb:\t0000010000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
	tests := []struct {
		name    string
		in      string
		want    Status
		wantErr bool
	}{
		{
			name: "uid 1000 with the cap everywhere",
			in:   base,
			want: Status{UID: 1000, UIDs: [4]uint32{1000, 1000, 1000, 1000}, GIDs: [4]uint32{1000, 1001, 1000, 1000}, Groups: []uint32{4, 27}, Inheritable: 1 << 40, Permitted: 1 << 40, Effective: 1 << 40, Bounding: 1<<40 | 0xc0, Ambient: 1 << 40, NoNewPrivs: true, Seccomp: 2},
		},
		{
			name: "real runc container as root",
			in:   string(real),
			want: Status{UID: 0, Groups: []uint32{}, Permitted: 0x20000420, Effective: 0x20000420, Bounding: 0x20000420, NoNewPrivs: true, NSpid: []int{1}},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "missing CapAmb (kernel before 4.3)", in: strings.Replace(base, "CapAmb:\t0000010000000000\n", "", 1), wantErr: true},
		{name: "bad hex", in: strings.Replace(base, "CapEff:\t0000010000000000", "CapEff:\tzz", 1), wantErr: true},
		{name: "bad group", in: strings.Replace(base, "Groups:\t4 27 ", "Groups:\t4 x", 1), wantErr: true},
		{name: "short Uid", in: strings.Replace(base, "Uid:\t1000\t1000\t1000\t1000", "Uid:\t1000", 1), wantErr: true},
		{name: "binary junk", in: "\x00\xff:\n::::\n", wantErr: true},
		{name: "a container's init seen from the host", in: base + "NSpid:\t4242\t1\n",
			want: Status{UID: 1000, UIDs: [4]uint32{1000, 1000, 1000, 1000}, GIDs: [4]uint32{1000, 1001, 1000, 1000}, Groups: []uint32{4, 27}, Inheritable: 1 << 40, Permitted: 1 << 40, Effective: 1 << 40, Bounding: 1<<40 | 0xc0, Ambient: 1 << 40, NoNewPrivs: true, Seccomp: 2, NSpid: []int{4242, 1}}},
		{name: "NSpid not a number", in: base + "NSpid:\t4242\tx\n", wantErr: true},
		{name: "NSpid deeper than the kernel nests", in: base + "NSpid:" + strings.Repeat("\t1", 34) + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHas(t *testing.T) {
	st, err := ParseStatus(strings.NewReader("Uid:\t0\t0\t0\t0\nCapInh:\t0\nCapPrm:\t0\nCapEff:\t0000010000000000\nCapBnd:\t0\nCapAmb:\t0\n"))
	if err != nil {
		t.Fatal(err)
	}
	eff, _ := st.Set("effective")
	if !Has(eff, capCheckpointRestore) || Has(eff, 21) || Has(eff, 64) || Has(eff, -1) {
		t.Error("Has is wrong")
	}
	if _, ok := st.Set("nonsense"); ok {
		t.Error("unknown set accepted")
	}
}

func TestReadStatusOfGoneProcess(t *testing.T) {
	_, err := ReadStatus(1 << 30)
	if !errors.Is(err, ErrGone) {
		t.Fatalf("err = %v, want ErrGone", err)
	}
	if _, err := ReadStatus(0); err == nil || errors.Is(err, ErrGone) {
		t.Fatalf("pid 0: err = %v", err)
	}
}

func TestReadStatusOfSelf(t *testing.T) {
	st, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.UID != uint32(os.Geteuid()) {
		t.Errorf("uid %d, want %d", st.UID, os.Geteuid())
	}
}

func TestReadMountsOfSelf(t *testing.T) {
	mounts, err := ReadMounts(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(mounts, func(m *mountinfo.Info) bool { return m.Mountpoint == "/" }) {
		t.Errorf("no root mount among %d mounts", len(mounts))
	}
}

// TestReadMountsOfZombie: a process that exited but was not reaped has
// no mount namespace; the kernel answers EINVAL, which is ErrGone.
func TestReadMountsOfZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start true:", err)
	}
	defer cmd.Wait()
	for i := 0; i < 200 && !exited(cmd.Process.Pid); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ReadMounts(cmd.Process.Pid); !errors.Is(err, ErrGone) {
		t.Fatalf("mountinfo of a zombie: err = %v, want ErrGone", err)
	}
}

func TestOwnPIDNamespace(t *testing.T) {
	tests := []struct {
		name  string
		nspid []int
		want  bool
	}{
		{name: "a container's init, seen from the host", nspid: []int{4242, 1}, want: true},
		{name: "a nested container's init", nspid: []int{4242, 17, 1}, want: true},
		{name: "in the reader's own namespace", nspid: []int{4242}},
		{name: "the reader's own init", nspid: []int{1}},
		{name: "a container in a pod's namespace", nspid: []int{4242, 7}},
		{name: "no NSpid line", nspid: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Status{NSpid: tt.nspid}).OwnPIDNamespace(); got != tt.want {
				t.Errorf("OwnPIDNamespace(%v) = %v, want %v", tt.nspid, got, tt.want)
			}
		})
	}
}
