package spec

import (
	"bytes"
	"os"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

// visibleMountDeadline bounds one VisibleMount call in the fuzz target:
// any input the fuzzer can build fits in far less.
const visibleMountDeadline = 5 * time.Second

// FuzzVisibleMount feeds arbitrary mountinfo text through the same parser
// poststart uses, then asks which mount is visible at a path. The walk
// follows parent links taken from the input, so crafted links (cycles,
// self-parents, repeated IDs) must neither panic nor hang it.
func FuzzVisibleMount(f *testing.F) {
	real, err := os.ReadFile("testdata/runc-mountinfo.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ mountinfo, target string }{
		{string(real), "/proc/sys"},
		{string(real), "/sys/fs/cgroup/memory"},
		{string(real), "/proc/sys/kernel/ns_last_pid"},
		{"10 1 0:1 / / rw - ext4 /dev/vda rw\n11 10 0:2 / /proc rw - proc proc rw\n12 11 0:2 /sys /proc/sys ro - proc proc rw\n13 10 0:3 / /proc rw - proc proc rw\n", "/proc/sys"},
		{"1 2 0:1 / / rw - ext4 /dev/vda rw\n2 1 0:1 / / rw - ext4 /dev/vda rw\n", "/proc/sys"},
		{"1 1 0:1 / / rw - ext4 /dev/vda rw\n", "/proc/sys"},
		{"1 0 0:1 / / rw - ext4 /dev/vda rw\n2 1 0:2 / /proc rw - proc proc rw\n3 2 0:2 / /proc rw - proc proc rw\n2 3 0:2 / /proc rw - proc proc rw\n", "/proc/sys"},
		{"11 10 0:2 / /proc rw - proc proc rw\n", "/proc/sys"},
		{"", "/"},
		{"1 0 0:1 / / rw - ext4 /dev/vda rw\n", "relative/../../x"},
	} {
		f.Add([]byte(seed.mountinfo), seed.target)
	}
	f.Fuzz(func(t *testing.T, text []byte, target string) {
		mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(text), nil)
		if err != nil {
			return
		}
		done := make(chan *mountinfo.Info, 1)
		go func() { done <- VisibleMount(mounts, target) }()
		var m *mountinfo.Info
		select {
		case m = <-done:
		case <-time.After(visibleMountDeadline):
			t.Fatalf("VisibleMount(%q) did not return within %s on:\n%s", target, visibleMountDeadline, text)
		}
		hasRoot := slices.ContainsFunc(mounts, func(m *mountinfo.Info) bool { return m.Mountpoint == "/" })
		switch {
		case m == nil && hasRoot:
			t.Fatal("nil despite a / mount")
		case m == nil:
			return
		case !slices.Contains(mounts, m):
			t.Fatalf("returned a mount that is not in the list: %+v", m)
		case !covers(m.Mountpoint, path.Clean(target)):
			t.Fatalf("mount at %q does not cover %q", m.Mountpoint, target)
		}
		ReadOnly(m)
	})
}
