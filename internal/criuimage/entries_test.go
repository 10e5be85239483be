package criuimage

import (
	"reflect"
	"slices"
	"testing"

	criu_creds "github.com/checkpoint-restore/go-criu/v7/crit/images/creds"
	criu_core "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/regfile"
	remap_file_path "github.com/checkpoint-restore/go-criu/v7/crit/images/remap-file-path"
	sk_inet "github.com/checkpoint-restore/go-criu/v7/crit/images/sk-inet"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/crhook/crhook/internal/criuimage/imagetest"
)

// TestFieldNumbersMatchGoCRIU holds each field number the lean decoders
// use to go-criu's copy of CRIU's schema.
func TestFieldNumbersMatchGoCRIU(t *testing.T) {
	tests := []struct {
		msg   proto.Message
		field protoreflect.Name
		num   fieldNumber
	}{
		{&inventory.InventoryEntry{}, "tcp_close", inventoryTCPClose},
		{&pstree.PstreeEntry{}, "pid", pstreePID},
		{&pstree.PstreeEntry{}, "threads", pstreeThreads},
		{&criu_core.CoreEntry{}, "thread_core", coreThreadCore},
		{&criu_core.ThreadCoreEntry{}, "creds", threadCoreCreds},
		{&criu_creds.CredsEntry{}, "uid", credsUID},
		{&criu_creds.CredsEntry{}, "gid", credsGID},
		{&criu_creds.CredsEntry{}, "euid", credsEUID},
		{&criu_creds.CredsEntry{}, "egid", credsEGID},
		{&criu_creds.CredsEntry{}, "suid", credsSUID},
		{&criu_creds.CredsEntry{}, "sgid", credsSGID},
		{&criu_creds.CredsEntry{}, "fsuid", credsFSUID},
		{&criu_creds.CredsEntry{}, "fsgid", credsFSGID},
		{&criu_creds.CredsEntry{}, "cap_inh", credsCapInh},
		{&criu_creds.CredsEntry{}, "cap_prm", credsCapPrm},
		{&criu_creds.CredsEntry{}, "cap_eff", credsCapEff},
		{&criu_creds.CredsEntry{}, "cap_bnd", credsCapBnd},
		{&criu_creds.CredsEntry{}, "secbits", credsSecbits},
		{&criu_creds.CredsEntry{}, "groups", credsGroups},
		{&remap_file_path.RemapFilePathEntry{}, "orig_id", remapOrigID},
		{&fdinfo.FileEntry{}, "type", fileType},
		{&fdinfo.FileEntry{}, "id", fileID},
		{&fdinfo.FileEntry{}, "reg", fileReg},
		{&fdinfo.FileEntry{}, "isk", fileIsk},
		{&regfile.RegFileEntry{}, "flags", regFlags},
		{&regfile.RegFileEntry{}, "name", regName},
		{&regfile.RegFileEntry{}, "size", regSize},
		{&regfile.RegFileEntry{}, "ext", regExt},
		{&regfile.RegFileEntry{}, "mode", regMode},
		{&sk_inet.InetSkEntry{}, "proto", inetProto},
		{&sk_inet.InetSkEntry{}, "src_port", inetSrcPort},
		{&sk_inet.InetSkEntry{}, "dst_port", inetDstPort},
		{&sk_inet.InetSkEntry{}, "src_addr", inetSrcAddr},
		{&sk_inet.InetSkEntry{}, "dst_addr", inetDstAddr},
	}
	for _, tt := range tests {
		d := tt.msg.ProtoReflect().Descriptor()
		t.Run(string(d.Name())+"."+string(tt.field), func(t *testing.T) {
			f := d.Fields().ByName(tt.field)
			if f == nil {
				t.Fatalf("go-criu's %s has no field %s", d.Name(), tt.field)
			}
			if f.Number() != protowire.Number(tt.num) {
				t.Errorf("field number %d, go-criu says %d", tt.num, f.Number())
			}
		})
	}
	// The two fields go-criu v7.2.0 lacks: a newer go-criu must agree.
	creds := (&criu_creds.CredsEntry{}).ProtoReflect().Descriptor().Fields()
	for num, name := range map[fieldNumber]protoreflect.Name{credsNoNewPrivs: "no_new_privs", credsCapAmb: "cap_amb"} {
		if f := creds.ByNumber(protowire.Number(num)); f != nil && f.Name() != name {
			t.Errorf("creds field %d is %s in go-criu, crhook reads it as %s", num, f.Name(), name)
		}
	}
	values := fdinfo.FdTypes(0).Descriptor().Values()
	if values.ByName("REG").Number() != fdTypeREG || values.ByName("INETSK").Number() != fdTypeINETSK {
		t.Error("REG or INETSK differ from go-criu's fd_types")
	}
}

// Entry kinds of FuzzEntriesMatchGoCRIU.
const (
	kindInventory = iota
	kindPstree
	kindCore
	kindRemap
	kindFile
)

// FuzzEntriesMatchGoCRIU: on any entry go-criu's types decode, the lean
// decoders succeed and read the same values. They may accept more (a
// missing required field, a malformed field of a kind they skip).
func FuzzEntriesMatchGoCRIU(f *testing.F) {
	real, err := imagetest.ReadDump(realDump)
	if err != nil {
		f.Fatal(err)
	}
	for kind, name := range map[int]string{kindInventory: "inventory.img", kindPstree: "pstree.img", kindCore: "core-106.img", kindFile: "files.img"} {
		entries, err := imagetest.Entries(real[name])
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			f.Add(kind, e)
		}
	}
	sock, err := imagetest.TCPSocket(7, 1, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 4000, 80)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kindFile, sock)
	merged, err := imagetest.Entries(must(imagetest.CoreWithGroups(real["core-106.img"], 3)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kindCore, merged[0])
	f.Add(kindRemap, protowire.AppendVarint(protowire.AppendTag(nil, remapOrigID, protowire.VarintType), 12))
	f.Fuzz(func(t *testing.T, kind int, entry []byte) {
		switch kind {
		case kindInventory:
			var want inventory.InventoryEntry
			if proto.Unmarshal(entry, &want) != nil {
				return
			}
			got, err := decodeInventory(entry)
			if err != nil || got.tcpClose != want.GetTcpClose() {
				t.Errorf("tcp_close %v, %v; go-criu %v", got.tcpClose, err, want.GetTcpClose())
			}
		case kindPstree:
			var want pstree.PstreeEntry
			if proto.Unmarshal(entry, &want) != nil {
				return
			}
			got, err := decodePstree(entry)
			if err != nil || got.pid != want.GetPid() || !slices.Equal(got.threads, want.GetThreads()) {
				t.Errorf("%+v, %v; go-criu %v", got, err, &want)
			}
		case kindCore:
			var want criu_core.CoreEntry
			if proto.Unmarshal(entry, &want) != nil {
				return
			}
			raw, found, err := coreCreds(entry)
			if err != nil || found != (want.GetThreadCore().GetCreds() != nil) {
				t.Fatalf("found %v, %v; go-criu %v", found, err, want.GetThreadCore().GetCreds())
			}
			if found {
				compareCreds(t, raw, want.GetThreadCore().GetCreds())
			}
		case kindRemap:
			var want remap_file_path.RemapFilePathEntry
			if proto.Unmarshal(entry, &want) != nil {
				return
			}
			got, err := decodeRemapOrigID(entry)
			if err != nil || got != want.GetOrigId() {
				t.Errorf("orig_id %d, %v; go-criu %d", got, err, want.GetOrigId())
			}
		case kindFile:
			var want fdinfo.FileEntry
			if proto.Unmarshal(entry, &want) != nil {
				return
			}
			compareFile(t, entry, &want)
		}
	})
}

func compareCreds(t *testing.T, raw []byte, want *criu_creds.CredsEntry) {
	t.Helper()
	got, err := decodeCreds(raw)
	if err != nil {
		t.Fatalf("creds: %v", err)
	}
	ids := [8]uint32{want.GetUid(), want.GetGid(), want.GetEuid(), want.GetEgid(), want.GetSuid(), want.GetSgid(), want.GetFsuid(), want.GetFsgid()}
	if got.ids != ids || got.secbits != want.GetSecbits() || !slices.Equal(got.groups, want.GetGroups()) ||
		!slices.Equal(got.capInh, want.GetCapInh()) || !slices.Equal(got.capPrm, want.GetCapPrm()) ||
		!slices.Equal(got.capEff, want.GetCapEff()) || !slices.Equal(got.capBnd, want.GetCapBnd()) {
		t.Errorf("creds %+v; go-criu %v", got, want)
	}
	// go-criu keeps the two newer fields as unknown ones: decode those
	// alone, as a message of their own, and compare.
	newer, err := decodeCreds(want.ProtoReflect().GetUnknown())
	if err != nil || newer.noNewPrivs != got.noNewPrivs || !slices.Equal(newer.capAmb, got.capAmb) {
		t.Errorf("no_new_privs %v, cap_amb %v; from go-criu's unknown fields %v, %v (%v)", got.noNewPrivs, got.capAmb, newer.noNewPrivs, newer.capAmb, err)
	}
}

func compareFile(t *testing.T, entry []byte, want *fdinfo.FileEntry) {
	t.Helper()
	got, err := decodeFile(entry)
	if err != nil || got.typ != uint32(want.GetType()) || got.id != want.GetId() ||
		got.reg.found != (want.GetReg() != nil) || got.isk.found != (want.GetIsk() != nil) {
		t.Fatalf("file %+v, %v; go-criu %v", got, err, want)
	}
	if r := want.GetReg(); r != nil {
		reg, err := decodeRegFile(got.reg.raw)
		wantReg := regFileEntry{flags: r.GetFlags(), name: r.GetName(), size: r.GetSize(), hasSize: r.Size != nil, mode: r.GetMode(), hasMode: r.Mode != nil, ext: r.GetExt()}
		if err != nil || reg != wantReg {
			t.Errorf("reg %+v, %v; go-criu %+v", reg, err, wantReg)
		}
	}
	if s := want.GetIsk(); s != nil {
		sk, err := decodeInetSk(got.isk.raw)
		wantSk := inetSkEntry{proto: s.GetProto(), srcPort: s.GetSrcPort(), dstPort: s.GetDstPort(), srcAddr: s.GetSrcAddr(), dstAddr: s.GetDstAddr()}
		if err != nil || !reflect.DeepEqual(normalize(sk), normalize(wantSk)) {
			t.Errorf("isk %+v, %v; go-criu %+v", sk, err, wantSk)
		}
	}
}

// normalize makes an empty address list nil, as protobuf leaves it.
func normalize(sk inetSkEntry) inetSkEntry {
	if len(sk.srcAddr) == 0 {
		sk.srcAddr = nil
	}
	if len(sk.dstAddr) == 0 {
		sk.dstAddr = nil
	}
	return sk
}
