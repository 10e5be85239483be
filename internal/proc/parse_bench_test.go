package proc_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
