package spec

import (
	"os"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

func parseMounts(t *testing.T, text string) []*mountinfo.Info {
	t.Helper()
	mounts, err := mountinfo.GetMountsFromReader(strings.NewReader(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return mounts
}

func TestVisibleMount(t *testing.T) {
	real, err := os.ReadFile("testdata/runc-mountinfo.txt")
	if err != nil {
		t.Fatal(err)
	}
	withoutProcSys := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, " /proc/sys ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	const stacked = `10 1 0:1 / / rw - ext4 /dev/vda rw
11 10 0:2 / /proc rw - proc proc rw
12 11 0:2 /sys /proc/sys ro - proc proc rw
13 10 0:3 / /proc rw - proc proc rw
`
	tests := []struct {
		name       string
		mountinfo  string
		wantPoint  string
		wantRO     bool
		wantNoRoot bool
	}{
		{name: "runc container", mountinfo: string(real), wantPoint: "/proc/sys", wantRO: true},
		{name: "runc container without the rule", mountinfo: withoutProcSys(string(real)), wantPoint: "/proc", wantRO: false},
		{name: "a /proc mounted over the first hides its /proc/sys", mountinfo: stacked, wantPoint: "/proc", wantRO: false},
		{name: "mounted on top of /proc/sys again", mountinfo: stacked + "14 13 0:3 /sys /proc/sys ro - proc proc rw\n", wantPoint: "/proc/sys", wantRO: true},
		{name: "no root mount", mountinfo: "11 10 0:2 / /proc rw - proc proc rw\n", wantNoRoot: true},
		{name: "crafted parent cycle ends", mountinfo: "1 2 0:1 / / rw - ext4 /dev/vda rw\n2 1 0:1 / / ro - ext4 /dev/vda rw\n", wantPoint: "/", wantRO: true},
		{name: "crafted cycle through a repeated ID ends", mountinfo: "1 0 0:1 / / rw - ext4 /dev/vda rw\n2 1 0:2 / /proc rw - proc proc rw\n" +
			"3 2 0:2 / /proc rw - proc proc rw\n2 3 0:2 /sys /proc/sys ro - proc proc rw\n", wantPoint: "/proc", wantRO: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := VisibleMount(parseMounts(t, tt.mountinfo), "/proc/sys")
			if tt.wantNoRoot {
				if m != nil {
					t.Fatalf("got %+v, want nil", m)
				}
				return
			}
			if m == nil {
				t.Fatal("no mount")
			}
			if m.Mountpoint != tt.wantPoint || ReadOnly(m) != tt.wantRO {
				t.Errorf("got %s ro=%v, want %s ro=%v", m.Mountpoint, ReadOnly(m), tt.wantPoint, tt.wantRO)
			}
		})
	}
}
