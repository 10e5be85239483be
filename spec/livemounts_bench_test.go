package spec_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/crhook/crhook/spec"
)

// BenchmarkMountinfo times what poststart does with /proc/PID/mountinfo:
// parse it and find the mount visible at /proc/sys. "runc" is a real
// container's; "busy-N" adds N mounts, as on a node with many volumes.
func BenchmarkMountinfo(b *testing.B) {
	runc := readMountinfo(b)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{name: "runc", data: runc},
		{name: "busy-1000", data: busyMountinfo(runc, 1000)},
		{name: "busy-10000", data: busyMountinfo(runc, 10000)},
	} {
		b.Run(c.name+"/parse+find", func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(c.data), nil)
				if err != nil {
					b.Fatal(err)
				}
				if m := spec.VisibleMount(mounts, "/proc/sys"); m == nil || !spec.ReadOnly(m) {
					b.Fatalf("/proc/sys resolved to %+v", m)
				}
			}
		})
		b.Run(c.name+"/find", func(b *testing.B) {
			mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(c.data), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if spec.VisibleMount(mounts, "/proc/sys") == nil {
					b.Fatal("no mount at /proc/sys")
				}
			}
		})
	}
}

// busyMountinfo appends n bind mounts under /data to a real mountinfo,
// children of its root mount, before the /proc/sys line is looked up.
func busyMountinfo(base []byte, n int) []byte {
	root, _, _ := strings.Cut(string(base), " ")
	var buf bytes.Buffer
	buf.Write(base)
	for i := range n {
		fmt.Fprintf(&buf, "%d %s 254:0 /srv/volumes/vol-%06d /data/vol-%06d ro,relatime - ext4 /dev/vda rw\n", 100000+i, root, i, i)
	}
	return buf.Bytes()
}

func readMountinfo(b *testing.B) []byte {
	b.Helper()
	data, err := os.ReadFile("testdata/runc-mountinfo.txt")
	if err != nil {
		b.Fatal(err)
	}
	return data
}
