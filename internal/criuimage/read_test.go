package criuimage

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/crit"
	criu_core "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"

	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

const (
	capSetpcap   = 8
	capSysPtrace = 19
	capCR        = 40
)

func TestReadRealDumps(t *testing.T) {
	tests := []struct {
		name       string
		dir        string
		pids       []int
		nnp        bool
		permitted  uint64
		wantBinary string
	}{
		{name: "minimal, no_new_privs", dir: "testdata/minimal-nnp", pids: []int{106, 130}, nnp: true, permitted: 1 << capCR, wantBinary: "/bin/busybox"},
		{name: "checkpoint, no no_new_privs", dir: "testdata/checkpoint-nonnp", pids: []int{106, 122}, permitted: 1<<capCR | 1<<capSetpcap | 1<<capSysPtrace, wantBinary: "/bin/busybox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.PIDs(); !equalInts(got, tt.pids) {
				t.Fatalf("PIDs %v, want %v", got, tt.pids)
			}
			for _, th := range d.Threads {
				c := th.Creds
				if c.UIDs != [4]uint32{1000, 1000, 1000, 1000} || c.GIDs != [4]uint32{1000, 1000, 1000, 1000} {
					t.Errorf("task %d ids %v %v", th.PID, c.UIDs, c.GIDs)
				}
				if c.NoNewPrivs != tt.nnp || c.Permitted != tt.permitted || c.Ambient != tt.permitted || c.Effective != tt.permitted {
					t.Errorf("task %d creds %+v, want nnp %v and %#x in permitted, effective and ambient", th.PID, c, tt.nnp, tt.permitted)
				}
				if c.Bounding&tt.permitted != tt.permitted {
					t.Errorf("task %d bounding %#x lacks %#x", th.PID, c.Bounding, tt.permitted)
				}
			}
			if !hasFile(d.Files, tt.wantBinary) {
				t.Errorf("files %+v lack %s", d.Files, tt.wantBinary)
			}
		})
	}
}

// TestReadAgreesWithCrit checks the reader's own framing against go-criu's
// crit decoder on the same real images.
func TestReadAgreesWithCrit(t *testing.T) {
	for _, dir := range []string{"testdata/minimal-nnp", "testdata/checkpoint-nonnp"} {
		d, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, "pstree.img"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := crit.New(f, nil, "", false, false).Decode(&pstree.PstreeEntry{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var pids []int
		for _, e := range img.Entries {
			p := e.Message.(*pstree.PstreeEntry)
			for _, tid := range p.GetThreads() {
				pids = append(pids, int(tid))
			}
			core := decodeCore(t, filepath.Join(dir, "core-"+strconv.FormatUint(uint64(p.GetPid()), 10)+".img"))
			want := core.GetThreadCore().GetCreds()
			for _, th := range d.Threads {
				if th.PID == int(p.GetPid()) && (th.Creds.UIDs[0] != want.GetUid() || th.Creds.Bounding != capMask(want.GetCapBnd())) {
					t.Errorf("%s: task %d creds differ from crit's: %+v vs %v", dir, th.PID, th.Creds, want)
				}
			}
		}
		if !equalInts(pids, d.PIDs()) {
			t.Errorf("%s: crit reads PIDs %v, Read %v", dir, pids, d.PIDs())
		}
	}
}

func decodeCore(t *testing.T, path string) *criu_core.CoreEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := crit.New(f, nil, "", false, false).Decode(&criu_core.CoreEntry{})
	if err != nil {
		t.Fatal(err)
	}
	return img.Entries[0].Message.(*criu_core.CoreEntry)
}

func TestReadRefusesBrokenDirectories(t *testing.T) {
	tests := slices.Concat(brokenLayoutCases(), brokenImageCases(), irregularImageFileCases())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkReadRefuses(t, tt) })
	}
}

// brokenDirCase breaks an image directory, and names what Read's error
// must mention.
type brokenDirCase struct {
	name   string
	setup  func(t *testing.T, dir string)
	wantIn string
}

// realDump is a dump criu made, which the cases copy and then break.
const realDump = "testdata/minimal-nnp"

// brokenLayoutCases lack the directory or an image in it.
func brokenLayoutCases() []brokenDirCase {
	return []brokenDirCase{
		{name: "empty directory", setup: func(*testing.T, string) {}, wantIn: "no inventory.img"},
		{name: "not a directory", setup: func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			write(t, dir, []byte("x"))
		}, wantIn: "not a directory"},
		{name: "pstree missing", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			os.Remove(filepath.Join(dir, "pstree.img"))
		}, wantIn: "pstree.img"},
		{name: "core missing", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			os.Remove(filepath.Join(dir, "core-130.img"))
		}, wantIn: "core-130.img"},
	}
}

// brokenImageCases hold every image, one of them corrupt.
func brokenImageCases() []brokenDirCase {
	return []brokenDirCase{
		{name: "wrong magic", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			copyFile(t, filepath.Join(realDump, "files.img"), filepath.Join(dir, "pstree.img"))
		}, wantIn: "magic FILES, want PSTREE"},
		{name: "truncated entry", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			data := readBytes(t, filepath.Join(realDump, "core-106.img"))
			write(t, filepath.Join(dir, "core-106.img"), data[:len(data)-7])
		}, wantIn: "claims"},
		{name: "entry claims 4 GiB", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			data := readBytes(t, filepath.Join(realDump, "pstree.img"))
			binary.LittleEndian.PutUint32(data[8:], 0xffffffff)
			write(t, filepath.Join(dir, "pstree.img"), data)
		}, wantIn: "claims 4294967295 bytes"},
		{name: "garbage protobuf", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			data := readBytes(t, filepath.Join(realDump, "pstree.img"))
			for i := 12; i < len(data); i++ {
				data[i] = 0xff
			}
			write(t, filepath.Join(dir, "pstree.img"), data)
		}, wantIn: "pstree.img: entry 0"},
		{name: "empty pstree", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			write(t, filepath.Join(dir, "pstree.img"), readBytes(t, filepath.Join(realDump, "pstree.img"))[:8])
		}, wantIn: "lists no task"},
	}
}

// irregularImageFileCases put something other than a regular file where
// an image belongs.
func irregularImageFileCases() []brokenDirCase {
	return []brokenDirCase{
		{name: "core is a fifo", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			os.Remove(filepath.Join(dir, "core-106.img"))
			if err := syscall.Mkfifo(filepath.Join(dir, "core-106.img"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantIn: "core-106.img"},
		{name: "core is a symlink loop", setup: func(t *testing.T, dir string) {
			copyAll(t, realDump, dir)
			os.Remove(filepath.Join(dir, "core-106.img"))
			if err := os.Symlink("core-106.img", filepath.Join(dir, "core-106.img")); err != nil {
				t.Fatal(err)
			}
		}, wantIn: "core-106.img"},
	}
}

// checkReadRefuses breaks a fresh image directory as tt says and checks
// Read refuses it as bad input, in one line that mentions tt.wantIn.
func checkReadRefuses(t *testing.T, tt brokenDirCase) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tt.setup(t, dir)
	_, err := Read(dir)
	if !errors.Is(err, errkind.ErrBadInput) || !strings.Contains(err.Error(), tt.wantIn) {
		t.Fatalf("err = %v, want bad input mentioning %q", err, tt.wantIn)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

// FuzzReadEntries feeds arbitrary bytes as pstree.img and core images:
// the reader must return an error or a dump, never panic or allocate
// what the input only claims.
func FuzzReadEntries(f *testing.F) {
	for _, name := range []string{"pstree.img", "core-106.img", "files.img"} {
		f.Add(name, readBytes(f, filepath.Join("testdata/minimal-nnp", name)))
	}
	f.Add("pstree.img", []byte{})
	f.Add("core-106.img", []byte{0x19, 0x5c, 0x56, 0x54, 0x47, 0x50, 0x05, 0x55, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		switch name {
		case "pstree.img", "core-106.img", "core-130.img", "files.img", "inventory.img", "remap-fpath.img":
		default:
			return
		}
		dir := t.TempDir()
		copyAll(t, "testdata/minimal-nnp", dir)
		write(t, filepath.Join(dir, name), data)
		d, err := Read(dir)
		if err != nil {
			if !errors.Is(err, errkind.ErrBadInput) {
				t.Fatalf("error is not bad input: %v", err)
			}
			return
		}
		if len(d.Threads) == 0 {
			t.Fatal("a dump without threads was accepted")
		}
	})
}

func hasFile(files []spec.DumpedFile, path string) bool {
	for _, f := range files {
		if f.Path == path && f.HasSize && f.HasMode {
			return true
		}
	}
	return false
}

func equalInts(a, b []int) bool { return slices.Equal(a, b) }

func copyAll(t testing.TB, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(t, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	write(t, to, readBytes(t, from))
}

func readBytes(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
