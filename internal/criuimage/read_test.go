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
	criu_creds "github.com/checkpoint-restore/go-criu/v7/crit/images/creds"
	criu_core "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"

	"google.golang.org/protobuf/proto"

	"github.com/crhook/crhook/internal/criuimage/imagetest"
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

// hostileCase is a real dump bent by bend; Read must refuse it with an
// error that mentions wantIn.
type hostileCase struct {
	name   string
	bend   func(t *testing.T, d imagetest.Dump)
	wantIn string
}

// hostileCases are the shapes a dump takes to make its reader spend:
// the same thread listed again and again, a core that claims millions of
// groups, images that add up to more than any dump holds.
func hostileCases() []hostileCase {
	return []hostileCase{
		{name: "a thread listed twice in its task", wantIn: "lists thread 106 twice", bend: func(t *testing.T, d imagetest.Dump) {
			d["pstree.img"] = pstreeOf(t, imagetest.Task(106, 106, 106))
		}},
		{name: "one thread in two tasks", wantIn: "lists thread 130 twice", bend: func(t *testing.T, d imagetest.Dump) {
			d["pstree.img"] = pstreeOf(t, imagetest.Task(106, 106, 130), imagetest.Task(130))
		}},
		{name: "more threads than a dump restores", wantIn: "more than 65536 threads", bend: func(t *testing.T, d imagetest.Dump) {
			ids := make([]uint32, maxThreads+1)
			for i := range ids {
				ids[i] = uint32(i + 1)
			}
			d["pstree.img"] = pstreeOf(t, imagetest.Task(1, ids...))
		}},
		{name: "more groups than NGROUPS_MAX", wantIn: "holds 65537 supplementary groups; Linux allows at most 65536", bend: func(t *testing.T, d imagetest.Dump) {
			d["core-106.img"] = must(imagetest.CoreWithGroups(d["core-106.img"], maxGroups+1-len(realGroups(t, d["core-106.img"]))))
		}},
		{name: "a core over its bound", wantIn: "core-130.img is larger than 1024 KiB", bend: func(t *testing.T, d imagetest.Dump) {
			d["core-130.img"] = must(imagetest.CorePadded(d["core-130.img"], maxCoreImage))
		}},
		{name: "groups over the dump's bound", wantIn: "more than 1048576 supplementary groups in all", bend: func(t *testing.T, d imagetest.Dump) {
			manyThreads(t, d, 20, func(core []byte) []byte { return must(imagetest.CoreWithGroups(core, maxGroups-8)) })
		}},
		{name: "images over the dump's budget", wantIn: "add up to more than 48 MiB", bend: func(t *testing.T, d imagetest.Dump) {
			manyThreads(t, d, 60, func(core []byte) []byte { return must(imagetest.CorePadded(core, 900<<10)) })
		}},
		{name: "more files than a dump reopens", wantIn: "files.img lists more than 131072 regular files", bend: func(t *testing.T, d imagetest.Dump) {
			entries, err := imagetest.Entries(d["files.img"])
			if err != nil || len(entries) == 0 {
				t.Fatalf("files.img: %d entries: %v", len(entries), err)
			}
			many := make([][]byte, maxFiles+1)
			for i := range many {
				many[i] = entries[0]
			}
			d["files.img"] = imagetest.Image("FILES", many...)
		}},
	}
}

// TestReadRefusesHostileDumps: each hostile shape is refused as bad
// input, naming the bound it broke, in one line.
func TestReadRefusesHostileDumps(t *testing.T) {
	for _, tt := range hostileCases() {
		t.Run(tt.name, func(t *testing.T) {
			d, err := imagetest.ReadDump(realDump)
			if err != nil {
				t.Fatal(err)
			}
			tt.bend(t, d)
			checkReadRefuses(t, brokenDirCase{name: tt.name, wantIn: tt.wantIn, setup: func(t *testing.T, dir string) {
				if err := d.Write(dir); err != nil {
					t.Fatal(err)
				}
			}})
		})
	}
}

// TestReadTakesGroupsUpToTheBound: a thread may hold NGROUPS_MAX groups.
func TestReadTakesGroupsUpToTheBound(t *testing.T) {
	d, err := imagetest.ReadDump(realDump)
	if err != nil {
		t.Fatal(err)
	}
	core := d["core-106.img"]
	d["core-106.img"] = must(imagetest.CoreWithGroups(core, maxGroups-len(realGroups(t, core))))
	dump := writeAndRead(t, d)
	if got := len(dump.Threads[0].Creds.Groups); got != maxGroups {
		t.Errorf("thread 106 holds %d groups, want %d", got, maxGroups)
	}
}

// manyThreads makes d a dump of n threads of one task, each with the
// core bend makes of the real core-106.img.
func manyThreads(t *testing.T, d imagetest.Dump, n int, bend func([]byte) []byte) {
	t.Helper()
	core := bend(d["core-106.img"])
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(1000 + i)
		d[imagetest.CoreName(ids[i])] = core
	}
	d["pstree.img"] = pstreeOf(t, imagetest.Task(ids[0], ids...))
}

func pstreeOf(t *testing.T, tasks ...*pstree.PstreeEntry) []byte {
	t.Helper()
	return must(imagetest.Pstree(tasks...))
}

// realGroups are the groups the real core image's thread holds.
func realGroups(t *testing.T, core []byte) []uint32 {
	t.Helper()
	entries, err := imagetest.Entries(core)
	if err != nil {
		t.Fatal(err)
	}
	var c criu_core.CoreEntry
	if err := proto.Unmarshal(entries[0], &c); err != nil {
		t.Fatal(err)
	}
	return c.GetThreadCore().GetCreds().GetGroups()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzReadDump feeds arbitrary bytes as a whole dump's images: pstree,
// one core written for every thread the real dump has, files and remap.
// Whatever they hold, Read returns bad input or a dump within its
// bounds, and never panics. testdata/fuzz/FuzzReadDump holds the
// hostile shapes that are small enough to commit.
func FuzzReadDump(f *testing.F) {
	real, err := imagetest.ReadDump(realDump)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real["pstree.img"], real["core-106.img"], real["files.img"], []byte{})
	dup := must(imagetest.Pstree(imagetest.Task(106, 106, 106)))
	f.Add(dup, real["core-106.img"], real["files.img"], []byte{})
	f.Add(real["pstree.img"], must(imagetest.CoreWithGroups(real["core-106.img"], 64)), real["files.img"], []byte{})
	f.Fuzz(func(t *testing.T, tree, core, files, remap []byte) {
		dir := t.TempDir()
		d := imagetest.Dump{"inventory.img": real["inventory.img"], "pstree.img": tree, "core-106.img": core, "core-130.img": core, "files.img": files}
		if len(remap) > 0 {
			d["remap-fpath.img"] = remap
		}
		if err := d.Write(dir); err != nil {
			t.Fatal(err)
		}
		dump, err := Read(dir)
		if err != nil {
			if !errors.Is(err, errkind.ErrBadInput) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("not one line of bad input: %v", err)
			}
			return
		}
		checkBounds(t, dump)
	})
}

// checkBounds holds a dump Read accepted to Read's bounds.
func checkBounds(t *testing.T, d spec.Dump) {
	t.Helper()
	if len(d.Threads) == 0 || len(d.Threads) > maxThreads || len(d.Files) > maxFiles {
		t.Fatalf("%d threads, %d files", len(d.Threads), len(d.Files))
	}
	seen := map[int]bool{}
	for _, th := range d.Threads {
		if seen[th.PID] || len(th.Creds.Groups) > maxGroups {
			t.Fatalf("thread %d twice, or with %d groups", th.PID, len(th.Creds.Groups))
		}
		seen[th.PID] = true
	}
}

// TestReadConnections: files.img's TCP sockets with a peer are the
// dump's connections, a listening one is not, and inventory.img's
// tcp_close (criu dump --tcp-close) is read with them.
func TestReadConnections(t *testing.T) {
	d, err := imagetest.ReadDump(realDump)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := imagetest.Entries(d["files.img"])
	if err != nil {
		t.Fatal(err)
	}
	lo := [4]byte{127, 0, 0, 1}
	established := must(imagetest.TCPSocket(900, 1, lo, lo, 40000, 8080))
	listening := must(imagetest.TCPSocket(901, 10, lo, [4]byte{}, 8080, 0))
	closeWait := must(imagetest.TCPSocket(902, 8, [4]byte{10, 0, 0, 2}, [4]byte{10, 0, 0, 1}, 40001, 443))
	d["files.img"] = imagetest.Image("FILES", append(entries, established, listening, closeWait)...)
	dump := writeAndRead(t, d)
	want := []spec.DumpedConnection{{Local: "127.0.0.1:40000", Remote: "127.0.0.1:8080"}, {Local: "10.0.0.2:40001", Remote: "10.0.0.1:443"}}
	if !slices.Equal(dump.Connections, want) {
		t.Errorf("connections %v, want %v", dump.Connections, want)
	}
	if !hasFile(dump.Files, "/bin/busybox") {
		t.Error("the regular files are gone")
	}
	if dump.ConnectionsClosed {
		t.Error("a dump without --tcp-close reads as closed")
	}

	var inv inventory.InventoryEntry
	invEntries, err := imagetest.Entries(d["inventory.img"])
	if err != nil || len(invEntries) != 1 {
		t.Fatalf("inventory.img: %d entries, %v", len(invEntries), err)
	}
	if err := proto.Unmarshal(invEntries[0], &inv); err != nil {
		t.Fatal(err)
	}
	inv.TcpClose = proto.Bool(true)
	d["inventory.img"] = imagetest.Image("INVENTORY", must(proto.Marshal(&inv)))
	dump = writeAndRead(t, d)
	if !dump.ConnectionsClosed || len(dump.Connections) != 2 {
		t.Errorf("--tcp-close dump: closed %v, %d connections; want true, 2", dump.ConnectionsClosed, len(dump.Connections))
	}
}

// TestCoreCredsMatchFullDecode: the credentials read from a core entry
// without decoding the rest are what decoding the whole entry gives,
// also when the entry repeats thread_core (protobuf merges the two).
func TestCoreCredsMatchFullDecode(t *testing.T) {
	real, err := imagetest.ReadDump(realDump)
	if err != nil {
		t.Fatal(err)
	}
	core := real["core-106.img"]
	merged := must(imagetest.CoreWithGroups(core, 3))
	for name, img := range map[string][]byte{"a real core": core, "thread_core given twice": merged} {
		t.Run(name, func(t *testing.T) {
			entries, err := imagetest.Entries(img)
			if err != nil || len(entries) != 1 {
				t.Fatalf("%d entries, %v", len(entries), err)
			}
			var full criu_core.CoreEntry
			if err := proto.Unmarshal(entries[0], &full); err != nil {
				t.Fatal(err)
			}
			raw, found, err := coreCreds(entries[0])
			if err != nil || !found {
				t.Fatalf("found %v, %v", found, err)
			}
			var lean criu_creds.CredsEntry
			if err := proto.Unmarshal(raw, &lean); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&lean, full.GetThreadCore().GetCreds()) {
				t.Errorf("creds differ:\nlean %v\nfull %v", &lean, full.GetThreadCore().GetCreds())
			}
		})
	}
}

// writeAndRead writes dump d to a new directory and reads it back.
func writeAndRead(t *testing.T, d imagetest.Dump) spec.Dump {
	t.Helper()
	dir := t.TempDir()
	if err := d.Write(dir); err != nil {
		t.Fatal(err)
	}
	dump, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dump
}
