package proc_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/crhook/crhook/internal/proc"
)

// BenchmarkParseStatus times the parse of /proc/PID/status that
// poststart does, on runc's container init as captured in testdata.
func BenchmarkParseStatus(b *testing.B) {
	data := readBenchFile(b, "runc-root-status.txt")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proc.ParseStatus(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMountinfo times what poststart does with /proc/PID/mountinfo:
// parse it and find the mount visible at /proc/sys. "runc" is a real
// container's; "busy-N" adds N mounts, as on a node with many volumes.
func BenchmarkMountinfo(b *testing.B) {
	runc := readBenchFile(b, "runc-mountinfo.txt")
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
				if m := proc.VisibleMount(mounts, "/proc/sys"); m == nil || !proc.ReadOnly(m) {
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
				if proc.VisibleMount(mounts, "/proc/sys") == nil {
					b.Fatal("no mount at /proc/sys")
				}
			}
		})
	}
}

// BenchmarkReadSelf times the live reads, /proc/self included.
func BenchmarkReadSelf(b *testing.B) {
	pid := os.Getpid()
	b.Run("status", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proc.ReadStatus(pid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mountinfo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proc.ReadMounts(pid); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func readBenchFile(b *testing.B, name string) []byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	return data
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
