package criuimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	criu_core "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	remap_file_path "github.com/checkpoint-restore/go-criu/v7/crit/images/remap-file-path"
	"github.com/checkpoint-restore/go-criu/v7/magic"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/crhook/crhook/internal/boundedio"
	"github.com/crhook/crhook/internal/errkind"
	"github.com/crhook/crhook/spec"
)

// maxImage bounds one image file: the ones read here hold a few hundred
// bytes per task or file, so this covers hundreds of thousands of each.
const maxImage = 64 << 20

// maxThreads bounds the tasks and threads of one dump.
const maxThreads = 1 << 20

// ErrNotImages marks a directory that holds no readable CRIU dump.
var ErrNotImages = errors.New("not a CRIU image directory")

// Read reads the dump in dir. Every error is bad input: the directory is
// the caller's to fix.
func Read(dir string) (spec.Dump, error) {
	d, err := read(dir)
	if err != nil {
		return spec.Dump{}, errkind.BadInput(fmt.Errorf("read CRIU images in %s: %w", dir, err))
	}
	return d, nil
}

func read(dir string) (spec.Dump, error) {
	var inv inventory.InventoryEntry
	if err := readEntries(dir, "inventory.img", "INVENTORY", &inv, func() error { return nil }); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return spec.Dump{}, fmt.Errorf("%w: no inventory.img (point --images at the directory criu dump -D wrote)", ErrNotImages)
		}
		return spec.Dump{}, err
	}
	threads, err := readTree(dir)
	if err != nil {
		return spec.Dump{}, err
	}
	files, err := readFiles(dir)
	if err != nil {
		return spec.Dump{}, err
	}
	return spec.Dump{Threads: threads, Files: files}, nil
}

// readTree reads pstree.img and each thread's core-TID.img.
func readTree(dir string) ([]spec.DumpedThread, error) {
	var entry pstree.PstreeEntry
	var threads []spec.DumpedThread
	err := readEntries(dir, "pstree.img", "PSTREE", &entry, func() error {
		ids := entry.GetThreads()
		if len(ids) == 0 {
			ids = []uint32{entry.GetPid()}
		}
		for _, tid := range ids {
			if len(threads) >= maxThreads {
				return fmt.Errorf("pstree.img: more than %d threads", maxThreads)
			}
			creds, err := readCreds(dir, tid)
			if err != nil {
				return err
			}
			threads = append(threads, spec.DumpedThread{PID: int(tid), Task: int(entry.GetPid()), Creds: creds})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(threads) == 0 {
		return nil, fmt.Errorf("%w: pstree.img lists no task", ErrNotImages)
	}
	return threads, nil
}

// readCreds reads a thread's credentials from its core image.
func readCreds(dir string, tid uint32) (spec.Creds, error) {
	name := "core-" + strconv.FormatUint(uint64(tid), 10) + ".img"
	var core criu_core.CoreEntry
	var creds spec.Creds
	found := false
	err := readEntries(dir, name, "CORE", &core, func() error {
		c := core.GetThreadCore().GetCreds()
		if c == nil {
			return nil
		}
		found = true
		creds = spec.Creds{
			UIDs:        [4]uint32{c.GetUid(), c.GetEuid(), c.GetSuid(), c.GetFsuid()},
			GIDs:        [4]uint32{c.GetGid(), c.GetEgid(), c.GetSgid(), c.GetFsgid()},
			Groups:      c.GetGroups(),
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

// readFiles reads the regular files of files.img that CRIU reopens by
// path: not external ones, and not those remap-fpath.img replaces (files
// deleted or unreachable at dump time, restored from the images).
func readFiles(dir string) ([]spec.DumpedFile, error) {
	remapped := map[uint32]bool{}
	var remap remap_file_path.RemapFilePathEntry
	err := readEntries(dir, "remap-fpath.img", "REMAP_FPATH", &remap, func() error {
		remapped[remap.GetOrigId()] = true
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var files []spec.DumpedFile
	var entry fdinfo.FileEntry
	err = readEntries(dir, "files.img", "FILES", &entry, func() error {
		reg := entry.GetReg()
		if entry.GetType() != fdinfo.FdTypes_REG || reg == nil || reg.GetExt() || remapped[entry.GetId()] {
			return nil
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
		return nil, nil
	}
	return files, err
}

// readEntries reads image name, checks its magic, and decodes each entry
// into msg before calling each. An image is two magic words (the first
// only a class, IMG_COMMON or IMG_SERVICE), then entries, each a
// little-endian 32-bit size and that many bytes of protobuf.
func readEntries(dir, name, want string, msg proto.Message, each func() error) error {
	data, err := boundedio.ReadFile(filepath.Join(dir, name), maxImage)
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
		proto.Reset(msg)
		if err := proto.Unmarshal(rest[:size], msg); err != nil {
			return fmt.Errorf("%s: entry %d: %w", name, n, err)
		}
		rest = rest[size:]
		if err := each(); err != nil {
			return err
		}
	}
	return nil
}

func checkMagic(data []byte, want string) ([]byte, error) {
	magics := magic.LoadMagic()
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
