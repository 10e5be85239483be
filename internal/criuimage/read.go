package criuimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/checkpoint-restore/go-criu/v7/magic"
	"golang.org/x/sys/unix"

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
	var inv inventoryEntry
	err := r.rawEntries("inventory.img", "INVENTORY", maxSmallImage, func(n int, entry []byte) (err error) {
		if inv, err = decodeInventory(entry); err != nil {
			return fmt.Errorf("inventory.img: entry %d: %w", n, err)
		}
		return nil
	})
	if err != nil {
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
	return spec.Dump{Threads: threads, Files: files, Connections: conns, ConnectionsClosed: inv.tcpClose}, nil
}

// tree reads pstree.img, then each thread's core-TID.img once. A thread
// ID listed twice is refused: the kernel gives each thread its own, and
// a dump that repeats one would make Read read its core again and again.
func (r *reader) tree() ([]spec.DumpedThread, error) {
	var threads []spec.DumpedThread
	seen := map[uint32]bool{}
	err := r.rawEntries("pstree.img", "PSTREE", maxListImage, func(n int, raw []byte) error {
		entry, err := decodePstree(raw)
		if err != nil {
			return fmt.Errorf("pstree.img: entry %d: %w", n, err)
		}
		ids := entry.threads
		if len(ids) == 0 {
			ids = []uint32{entry.pid}
		}
		for _, tid := range ids {
			switch {
			case seen[tid]:
				return fmt.Errorf("pstree.img lists thread %d twice; each thread has an ID of its own", tid)
			case len(threads) >= maxThreads:
				return fmt.Errorf("%w: pstree.img lists more than %d threads", ErrTooLarge, maxThreads)
			}
			seen[tid] = true
			threads = append(threads, spec.DumpedThread{PID: int(tid), Task: int(entry.pid)})
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

// creds reads a thread's credentials from its core image.
func (r *reader) creds(tid uint32) (spec.Creds, error) {
	name := "core-" + strconv.FormatUint(uint64(tid), 10) + ".img"
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
		c, err := decodeCreds(raw)
		if err != nil {
			return fmt.Errorf("%s: entry %d: %w", name, n, err)
		}
		if len(c.groups) > maxGroups {
			return fmt.Errorf("%s: thread %d holds %d supplementary groups; Linux allows at most %d (NGROUPS_MAX)", name, tid, len(c.groups), maxGroups)
		}
		if r.groups += len(c.groups); r.groups > maxTotalGroups {
			return fmt.Errorf("%w: the threads hold more than %d supplementary groups in all", ErrTooLarge, maxTotalGroups)
		}
		found = true
		id := c.ids
		creds = spec.Creds{
			UIDs:        [4]uint32{id[credsUID-1], id[credsEUID-1], id[credsSUID-1], id[credsFSUID-1]},
			GIDs:        [4]uint32{id[credsGID-1], id[credsEGID-1], id[credsSGID-1], id[credsFSGID-1]},
			Groups:      c.groups,
			Effective:   capMask(c.capEff),
			Permitted:   capMask(c.capPrm),
			Inheritable: capMask(c.capInh),
			Bounding:    capMask(c.capBnd),
			Ambient:     capMask(c.capAmb),
			Secbits:     c.secbits,
			NoNewPrivs:  c.noNewPrivs,
		}
		return nil
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
	err := r.rawEntries("remap-fpath.img", "REMAP_FPATH", maxListImage, func(n int, entry []byte) error {
		if len(remapped) >= maxFiles {
			return fmt.Errorf("%w: remap-fpath.img remaps more than %d files", ErrTooLarge, maxFiles)
		}
		id, err := decodeRemapOrigID(entry)
		if err != nil {
			return fmt.Errorf("remap-fpath.img: entry %d: %w", n, err)
		}
		remapped[id] = true
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	var files []spec.DumpedFile
	var conns []spec.DumpedConnection
	err = r.rawEntries("files.img", "FILES", maxListImage, func(n int, raw []byte) error {
		bad := func(err error) error { return fmt.Errorf("files.img: entry %d: %w", n, err) }
		entry, err := decodeFile(raw)
		if err != nil {
			return bad(err)
		}
		switch {
		case entry.typ == fdTypeINETSK && entry.isk.found:
			c, ok, err := connection(entry.isk.raw)
			switch {
			case err != nil:
				return bad(err)
			case !ok:
				return nil
			case len(conns) >= maxFiles:
				return fmt.Errorf("%w: files.img lists more than %d connected sockets", ErrTooLarge, maxFiles)
			}
			conns = append(conns, c)
		case entry.typ == fdTypeREG && entry.reg.found:
			reg, err := decodeRegFile(entry.reg.raw)
			switch {
			case err != nil:
				return bad(err)
			case reg.ext || remapped[entry.id]:
				return nil
			case len(files) >= maxFiles:
				return fmt.Errorf("%w: files.img lists more than %d regular files", ErrTooLarge, maxFiles)
			}
			access := reg.flags & unix.O_ACCMODE
			files = append(files, spec.DumpedFile{
				Path: filepath.Join("/", reg.name), Size: reg.size, HasSize: reg.hasSize,
				Mode: reg.mode, HasMode: reg.hasMode,
				Read: access == unix.O_RDONLY || access == unix.O_RDWR, Write: access == unix.O_WRONLY || access == unix.O_RDWR,
			})
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	return files, conns, err
}

// connection is a TCP socket of files.img that CRIU restores as a
// connection: one with a peer port (tcp_connection in criu/sk-inet.c).
func connection(raw []byte) (spec.DumpedConnection, bool, error) {
	sk, err := decodeInetSk(raw)
	if err != nil || sk.proto != unix.IPPROTO_TCP || sk.dstPort == 0 {
		return spec.DumpedConnection{}, false, err
	}
	return spec.DumpedConnection{Local: hostPort(sk.srcAddr, sk.srcPort), Remote: hostPort(sk.dstAddr, sk.dstPort)}, true, nil
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

// rawEntries reads image name, checks its magic, and calls each with
// every entry's index and bytes. An image is two magic words (the first
// only a class, IMG_COMMON or IMG_SERVICE), then entries, each a
// little-endian 32-bit size and that many bytes of protobuf.
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
	table := magics()
	word := func() (uint64, bool) {
		if len(data) < 4 {
			return 0, false
		}
		v := uint64(binary.LittleEndian.Uint32(data))
		data = data[4:]
		return v, true
	}
	v, ok := word()
	if ok && (v == table.ByName["IMG_COMMON"] || v == table.ByName["IMG_SERVICE"]) {
		v, ok = word()
	}
	if !ok {
		return nil, errors.New("too short for a CRIU image")
	}
	if v != table.ByName[want] {
		got := table.ByValue[v]
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
