package criuimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strconv"
	"sync"

	criu_creds "github.com/checkpoint-restore/go-criu/v7/crit/images/creds"
	criu_core "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	remap_file_path "github.com/checkpoint-restore/go-criu/v7/crit/images/remap-file-path"
	sk_inet "github.com/checkpoint-restore/go-criu/v7/crit/images/sk-inet"
	"github.com/checkpoint-restore/go-criu/v7/magic"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/crhook/crhook/internal/boundedio"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

// Bounds on what Read takes from a dump. A real one is small: a
// thread's core image is 2 to 3 KB, a task lists its threads in a few
// bytes each, and a JVM's files.img is tens of KB. A hostile one may
// claim anything, so each image has a cap, all images together share a
// budget, and so do the decoded tasks, groups and files: whatever the
// directory holds, Read ends in bounded time with a few tens of MiB.
const (
	// maxTotal is the bytes read from all images together.
	maxTotal = 48 << 20
	// maxCoreImage bounds one core-TID.img: its largest honest part is
	// NGROUPS_MAX supplementary groups, under 400 KB.
	maxCoreImage = 1 << 20
	// maxListImage bounds pstree.img, files.img and remap-fpath.img.
	maxListImage = 32 << 20
	// maxSmallImage bounds inventory.img, one entry.
	maxSmallImage = 1 << 20
	// maxThreads bounds the threads of one dump, which CRIU restores
	// one clone3 at a time.
	maxThreads = 1 << 16
	// maxGroups is NGROUPS_MAX: no thread can hold more.
	maxGroups = 65536
	// maxTotalGroups bounds the groups of all threads together.
	maxTotalGroups = 1 << 20
	// maxFiles bounds the entries of files.img and remap-fpath.img.
	maxFiles = 1 << 17
)

// ErrNotImages marks a directory that holds no readable CRIU dump.
var ErrNotImages = errors.New("not a CRIU image directory")

// ErrTooLarge marks a dump over one of Read's bounds.
var ErrTooLarge = errors.New("more than a CRIU dump holds")

// Read reads the dump in dir. Every error is bad input: the directory is
// the caller's to fix.
func Read(dir string) (spec.Dump, error) {
	r := &reader{dir: dir, budget: maxTotal}
	d, err := r.read()
	if err != nil {
		return spec.Dump{}, errkind.BadInput(fmt.Errorf("read CRIU images in %s: %w", dir, err))
	}
	return d, nil
}

// reader reads one dump, each image once, within budget bytes.
type reader struct {
	dir    string
	budget int64
	groups int
}

func (r *reader) read() (spec.Dump, error) {
	var inv inventory.InventoryEntry
	if err := r.entries("inventory.img", "INVENTORY", maxSmallImage, &inv, func() error { return nil }); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return spec.Dump{}, fmt.Errorf("%w: no inventory.img (point --images at the directory criu dump -D wrote)", ErrNotImages)
		}
		return spec.Dump{}, err
	}
	threads, err := r.tree()
	if err != nil {
		return spec.Dump{}, err
	}
	files, conns, err := r.files()
	if err != nil {
		return spec.Dump{}, err
	}
	return spec.Dump{Threads: threads, Files: files, Connections: conns, ConnectionsClosed: inv.GetTcpClose()}, nil
}

// tree reads pstree.img, then each thread's core-TID.img once. A thread
// ID listed twice is refused: the kernel gives each thread its own, and
// a dump that repeats one would make Read read its core again and again.
func (r *reader) tree() ([]spec.DumpedThread, error) {
	var entry pstree.PstreeEntry
	var threads []spec.DumpedThread
	seen := map[uint32]bool{}
	err := r.entries("pstree.img", "PSTREE", maxListImage, &entry, func() error {
		ids := entry.GetThreads()
		if len(ids) == 0 {
			ids = []uint32{entry.GetPid()}
		}
		for _, tid := range ids {
			switch {
			case seen[tid]:
				return fmt.Errorf("pstree.img lists thread %d twice; each thread has an ID of its own", tid)
			case len(threads) >= maxThreads:
				return fmt.Errorf("%w: pstree.img lists more than %d threads", ErrTooLarge, maxThreads)
			}
			seen[tid] = true
			threads = append(threads, spec.DumpedThread{PID: int(tid), Task: int(entry.GetPid())})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(threads) == 0 {
		return nil, fmt.Errorf("%w: pstree.img lists no task", ErrNotImages)
	}
	for i := range threads {
		if threads[i].Creds, err = r.creds(uint32(threads[i].PID)); err != nil {
			return nil, err
		}
	}
	return threads, nil
}

// Where a core image keeps a thread's credentials: core.thread_core.creds
// (images/core.proto). Only that part is decoded: a core is mostly
// registers, FPU state and signal actions, which the preflight does not
// need, and which cost a fresh process most of its reading time.
var (
	coreThreadCore  = fieldNumber(&criu_core.CoreEntry{}, "thread_core")
	threadCoreCreds = fieldNumber(&criu_core.ThreadCoreEntry{}, "creds")
)

// coreCreds finds the encoded credentials in a core entry.
func coreCreds(entry []byte) (raw []byte, found bool, err error) {
	thread, found, err := embedded(entry, coreThreadCore)
	if err != nil || !found {
		return nil, false, err
	}
	return embedded(thread, threadCoreCreds)
}

// creds reads a thread's credentials from its core image.
func (r *reader) creds(tid uint32) (spec.Creds, error) {
	name := "core-" + strconv.FormatUint(uint64(tid), 10) + ".img"
	var c criu_creds.CredsEntry
	var creds spec.Creds
	found := false
	err := r.rawEntries(name, "CORE", maxCoreImage, func(n int, entry []byte) error {
		raw, ok, err := coreCreds(entry)
		if err != nil {
			return fmt.Errorf("%s: entry %d: %w", name, n, err)
		}
		if !ok {
			return nil
		}
		proto.Reset(&c)
		if err := proto.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("%s: entry %d: %w", name, n, err)
		}
		groups := c.GetGroups()
		if len(groups) > maxGroups {
			return fmt.Errorf("%s: thread %d holds %d supplementary groups; Linux allows at most %d (NGROUPS_MAX)", name, tid, len(groups), maxGroups)
		}
		if r.groups += len(groups); r.groups > maxTotalGroups {
			return fmt.Errorf("%w: the threads hold more than %d supplementary groups in all", ErrTooLarge, maxTotalGroups)
		}
		found = true
		creds = spec.Creds{
			UIDs:        [4]uint32{c.GetUid(), c.GetEuid(), c.GetSuid(), c.GetFsuid()},
			GIDs:        [4]uint32{c.GetGid(), c.GetEgid(), c.GetSgid(), c.GetFsgid()},
			Groups:      groups,
			Effective:   capMask(c.GetCapEff()),
			Permitted:   capMask(c.GetCapPrm()),
			Inheritable: capMask(c.GetCapInh()),
			Bounding:    capMask(c.GetCapBnd()),
			Secbits:     c.GetSecbits(),
		}
		return newerCreds(c.ProtoReflect().GetUnknown(), &creds)
	})
	if err != nil {
		return spec.Creds{}, err
	}
	if !found {
		return spec.Creds{}, fmt.Errorf("%s holds no credentials (dumped by a CRIU older than crhook reads?)", name)
	}
	return creds, nil
}

// files reads the regular files of files.img that CRIU reopens by path
// (not external ones, and not those remap-fpath.img replaces: files
// deleted or unreachable at dump time, restored from the images), and
// its TCP sockets in a connected state.
func (r *reader) files() ([]spec.DumpedFile, []spec.DumpedConnection, error) {
	remapped := map[uint32]bool{}
	var remap remap_file_path.RemapFilePathEntry
	err := r.entries("remap-fpath.img", "REMAP_FPATH", maxListImage, &remap, func() error {
		if len(remapped) >= maxFiles {
			return fmt.Errorf("%w: remap-fpath.img remaps more than %d files", ErrTooLarge, maxFiles)
		}
		remapped[remap.GetOrigId()] = true
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	var files []spec.DumpedFile
	var conns []spec.DumpedConnection
	var entry fdinfo.FileEntry
	err = r.entries("files.img", "FILES", maxListImage, &entry, func() error {
		if c, ok := connection(entry.GetIsk()); ok && entry.GetType() == fdinfo.FdTypes_INETSK {
			if len(conns) >= maxFiles {
				return fmt.Errorf("%w: files.img lists more than %d connected sockets", ErrTooLarge, maxFiles)
			}
			conns = append(conns, c)
			return nil
		}
		reg := entry.GetReg()
		if entry.GetType() != fdinfo.FdTypes_REG || reg == nil || reg.GetExt() || remapped[entry.GetId()] {
			return nil
		}
		if len(files) >= maxFiles {
			return fmt.Errorf("%w: files.img lists more than %d regular files", ErrTooLarge, maxFiles)
		}
		access := reg.GetFlags() & unix.O_ACCMODE
		files = append(files, spec.DumpedFile{
			Path: filepath.Join("/", reg.GetName()), Size: reg.GetSize(), HasSize: reg.Size != nil,
			Mode: reg.GetMode(), HasMode: reg.Mode != nil,
			Read: access == unix.O_RDONLY || access == unix.O_RDWR, Write: access == unix.O_WRONLY || access == unix.O_RDWR,
		})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	return files, conns, err
}

// connection is a TCP socket of files.img that CRIU restores as a
// connection: one with a peer port (tcp_connection in criu/sk-inet.c).
func connection(sk *sk_inet.InetSkEntry) (spec.DumpedConnection, bool) {
	if sk == nil || sk.GetProto() != unix.IPPROTO_TCP || sk.GetDstPort() == 0 {
		return spec.DumpedConnection{}, false
	}
	addr := func(words []uint32, port uint32) string {
		ip := make(net.IP, 0, 16)
		for _, w := range words {
			ip = binary.LittleEndian.AppendUint32(ip, w)
		}
		return net.JoinHostPort(ip.String(), strconv.FormatUint(uint64(port), 10))
	}
	return spec.DumpedConnection{Local: addr(sk.GetSrcAddr(), sk.GetSrcPort()), Remote: addr(sk.GetDstAddr(), sk.GetDstPort())}, true
}

// image reads image name, at most limit bytes and what is left of the
// dump's budget.
func (r *reader) image(name string, limit int64) ([]byte, error) {
	if r.budget <= 0 {
		return nil, fmt.Errorf("%w: its images add up to more than %d MiB", ErrTooLarge, maxTotal>>20)
	}
	data, err := boundedio.ReadFile(filepath.Join(r.dir, name), min(limit, r.budget))
	switch {
	case errors.Is(err, boundedio.ErrTooLarge) && limit <= r.budget:
		return nil, fmt.Errorf("%w: %s is larger than %d KiB", ErrTooLarge, name, limit>>10)
	case errors.Is(err, boundedio.ErrTooLarge):
		return nil, fmt.Errorf("%w: its images add up to more than %d MiB", ErrTooLarge, maxTotal>>20)
	case err != nil:
		return nil, err
	}
	r.budget -= int64(len(data))
	return data, nil
}

// entries reads image name, checks its magic, and decodes each entry
// into msg before calling each.
func (r *reader) entries(name, want string, limit int64, msg proto.Message, each func() error) error {
	return r.rawEntries(name, want, limit, func(n int, entry []byte) error {
		proto.Reset(msg)
		if err := proto.Unmarshal(entry, msg); err != nil {
			return fmt.Errorf("%s: entry %d: %w", name, n, err)
		}
		return each()
	})
}

// rawEntries reads image name, checks its magic, and calls each with
// every entry's index and bytes. An image is two magic words (the first only a
// class, IMG_COMMON or IMG_SERVICE), then entries, each a little-endian
// 32-bit size and that many bytes of protobuf.
func (r *reader) rawEntries(name, want string, limit int64, each func(n int, entry []byte) error) error {
	data, err := r.image(name, limit)
	if err != nil {
		return err
	}
	rest, err := checkMagic(data, want)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for n := 0; len(rest) > 0; n++ {
		if len(rest) < 4 {
			return fmt.Errorf("%s: entry %d is cut short", name, n)
		}
		size := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(size) > uint64(len(rest)) {
			return fmt.Errorf("%s: entry %d claims %d bytes, %d are left", name, n, size, len(rest))
		}
		if err := each(n, rest[:size]); err != nil {
			return err
		}
		rest = rest[size:]
	}
	return nil
}

// magics is go-criu's table of image magics, built once.
var magics = sync.OnceValue(magic.LoadMagic)

func checkMagic(data []byte, want string) ([]byte, error) {
	magics := magics()
	word := func() (uint64, bool) {
		if len(data) < 4 {
			return 0, false
		}
		v := uint64(binary.LittleEndian.Uint32(data))
		data = data[4:]
		return v, true
	}
	v, ok := word()
	if ok && (v == magics.ByName["IMG_COMMON"] || v == magics.ByName["IMG_SERVICE"]) {
		v, ok = word()
	}
	if !ok {
		return nil, errors.New("too short for a CRIU image")
	}
	if v != magics.ByName[want] {
		got := magics.ByValue[v]
		if got == "" {
			got = fmt.Sprintf("%#x", v)
		}
		return nil, fmt.Errorf("%w: magic %s, want %s", ErrNotImages, got, want)
	}
	return data, nil
}

// capMask turns CRIU's 32-bit words (images/creds.proto) into one mask.
func capMask(words []uint32) uint64 {
	var m uint64
	for i, w := range words {
		if i < 2 {
			m |= uint64(w) << (32 * i)
		}
	}
	return m
}

// Fields of creds_entry newer than go-criu v7.2.0's copy of
// images/creds.proto (CRIU 3.18 and later write them). The library keeps
// them as unknown fields; they decide whether restore needs CAP_SETPCAP.
const (
	credsNoNewPrivs = 18 // optional uint32 no_new_privs
	credsCapAmb     = 19 // repeated uint32 cap_amb
)

func newerCreds(unknown protoreflect.RawFields, creds *spec.Creds) error {
	var amb []uint32
	err := eachVarint(unknown, func(num int32, v uint64) {
		switch num {
		case credsNoNewPrivs:
			creds.NoNewPrivs = v != 0
		case credsCapAmb:
			amb = append(amb, uint32(v))
		}
	})
	creds.Ambient = capMask(amb)
	return err
}
