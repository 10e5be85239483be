// Package imagetest builds CRIU image directories for tests: a real dump
// bent into the shapes a hostile one takes (a thread listed twice, a
// core image claiming millions of groups, images that add up to more
// than any dump holds). The reader's unit tests and the end-to-end test
// of `crhook verify --images` share them.
package imagetest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/checkpoint-restore/go-criu/v7/crit/images/creds"
	criu_core "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/fown"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	sk_inet "github.com/checkpoint-restore/go-criu/v7/crit/images/sk-inet"
	sk_opts "github.com/checkpoint-restore/go-criu/v7/crit/images/sk-opts"
	"github.com/checkpoint-restore/go-criu/v7/magic"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Dump is an image directory's files, by name.
type Dump map[string][]byte

// Write writes the dump into dir, which must exist.
func (d Dump) Write(dir string) error {
	for name, data := range d {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ReadDump reads the image files of dir, a real dump.
func ReadDump(dir string) (Dump, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := Dump{}
	for _, e := range entries {
		if d[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Image frames entries, each already encoded, as a CRIU image: the
// IMG_COMMON class, the magic of kind (such as "PSTREE"), then each
// entry behind its little-endian 32-bit size.
func Image(kind string, entries ...[]byte) []byte {
	m := magic.LoadMagic()
	var out []byte
	if kind != "INVENTORY" { // inventory.img alone has no common magic first
		out = binary.LittleEndian.AppendUint32(out, uint32(m.ByName["IMG_COMMON"]))
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(m.ByName[kind]))
	for _, e := range entries {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out
}

// Entries returns the encoded entries of an image, without its magic.
func Entries(img []byte) ([][]byte, error) {
	head := 8
	if len(img) >= 4 && uint64(binary.LittleEndian.Uint32(img)) != magic.LoadMagic().ByName["IMG_COMMON"] {
		head = 4
	}
	if len(img) < head {
		return nil, fmt.Errorf("image of %d bytes", len(img))
	}
	var out [][]byte
	for rest := img[head:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("entry cut short")
		}
		n := binary.LittleEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return nil, fmt.Errorf("entry of %d bytes, %d left", n, len(rest)-4)
		}
		out = append(out, rest[4:4+n])
		rest = rest[4+n:]
	}
	return out, nil
}

// Pstree encodes a pstree.img whose one task is pid with threads.
func Pstree(tasks ...*pstree.PstreeEntry) ([]byte, error) {
	entries := make([][]byte, len(tasks))
	for i, t := range tasks {
		var err error
		if entries[i], err = proto.Marshal(t); err != nil {
			return nil, err
		}
	}
	return Image("PSTREE", entries...), nil
}

// Task is a pstree entry for pid with threads.
func Task(pid uint32, threads ...uint32) *pstree.PstreeEntry {
	zero := uint32(0)
	return &pstree.PstreeEntry{Pid: proto.Uint32(pid), Ppid: &zero, Pgid: proto.Uint32(pid), Sid: proto.Uint32(pid), Threads: threads}
}

// The fields a hostile core bends, numbered as go-criu's copy of CRIU's
// images/core.proto and images/creds.proto numbers them.
var (
	coreThreadCore  = fieldNumber(&criu_core.CoreEntry{}, "thread_core")
	threadCoreCreds = fieldNumber(&criu_core.ThreadCoreEntry{}, "creds")
	credsGroups     = fieldNumber(&creds.CredsEntry{}, "groups")
)

// coreUnknown is a field no core_entry has: the decoder keeps it as
// unknown bytes, which is how a hostile core pads itself.
const coreUnknown = 1000

func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	f := m.ProtoReflect().Descriptor().Fields().ByName(name)
	if f == nil {
		panic(fmt.Sprintf("%T has no field %s", m, name))
	}
	return f.Number()
}

// CoreWithGroups is the core image core (a real one, one entry) with
// groups more supplementary groups appended to its thread's credentials,
// each a varint 1 (two bytes): protobuf merges a repeated message field,
// so the groups join the real ones.
func CoreWithGroups(core []byte, groups int) ([]byte, error) {
	creds := make([]byte, 0, 2*groups)
	for range groups {
		creds = protowire.AppendTag(creds, credsGroups, protowire.VarintType)
		creds = protowire.AppendVarint(creds, 1)
	}
	thread := protowire.AppendTag(nil, threadCoreCreds, protowire.BytesType)
	thread = protowire.AppendBytes(thread, creds)
	extra := protowire.AppendTag(nil, coreThreadCore, protowire.BytesType)
	extra = protowire.AppendBytes(extra, thread)
	return appendToCore(core, extra)
}

// CorePadded is the core image core with an unknown field of size bytes.
func CorePadded(core []byte, size int) ([]byte, error) {
	extra := protowire.AppendTag(nil, coreUnknown, protowire.BytesType)
	extra = protowire.AppendBytes(extra, make([]byte, size))
	return appendToCore(core, extra)
}

func appendToCore(core, extra []byte) ([]byte, error) {
	entries, err := Entries(core)
	if err != nil || len(entries) != 1 {
		return nil, fmt.Errorf("core image: %d entries: %v", len(entries), err)
	}
	return Image("CORE", slices.Concat(entries[0], extra)), nil
}

// CoreName is the core image of thread tid.
func CoreName(tid uint32) string { return fmt.Sprintf("core-%d.img", tid) }

// TCPSocket is files.img's entry for a TCP socket over IPv4 in state
// (1 is ESTABLISHED, 10 LISTEN), as CRIU writes one: addresses as the
// kernel's 32-bit words in host order.
func TCPSocket(id uint32, state uint32, src, dst [4]byte, srcPort, dstPort uint32) ([]byte, error) {
	word := func(a [4]byte) []uint32 { return []uint32{binary.LittleEndian.Uint32(a[:])} }
	zero, zero64 := proto.Uint32(0), proto.Uint64(0)
	e := &fdinfo.FileEntry{
		Type: fdinfo.FdTypes_INETSK.Enum(), Id: proto.Uint32(id),
		Isk: &sk_inet.InetSkEntry{
			Id: proto.Uint32(id), Ino: proto.Uint32(id), Family: proto.Uint32(2), Type: proto.Uint32(1), Proto: proto.Uint32(6),
			State: proto.Uint32(state), SrcPort: proto.Uint32(srcPort), DstPort: proto.Uint32(dstPort), Flags: zero, Backlog: zero,
			SrcAddr: word(src), DstAddr: word(dst),
			Fown: &fown.FownEntry{Uid: zero, Euid: zero, Signum: zero, PidType: zero, Pid: zero},
			Opts: &sk_opts.SkOptsEntry{SoSndbuf: zero, SoRcvbuf: zero, SoSndTmoSec: zero64, SoSndTmoUsec: zero64, SoRcvTmoSec: zero64, SoRcvTmoUsec: zero64},
		},
	}
	return proto.Marshal(e)
}
