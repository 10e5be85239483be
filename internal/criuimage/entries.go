package criuimage

// The entries below hold only the fields the preflight reads, decoded
// straight from the wire. Field numbers are CRIU's (images/*.proto);
// TestFieldNumbersMatchGoCRIU holds each to go-criu's copy of the schema,
// and the fuzz target FuzzEntriesMatchGoCRIU holds every decoder to
// go-criu's on any input protobuf accepts. The generated types would
// cost each `crhook verify --images` a third of its time: their package
// registration at start and their reflection set-up on first use.
//
// Each decoder follows protobuf's rules for what it reads: the last
// value of a scalar wins, repeated fields take packed and unpacked
// forms, a message field given twice is merged, a field with another
// wire type than its schema's is unknown, and an enum keeps any value
// (as Go's protobuf does, though CRIU's protobuf-c would refuse one
// fd_types does not list). Unlike protobuf, a missing required field is
// not an error: CRIU's restore finds that, and the preflight decides on
// what is there.

// inventory_entry (images/inventory.proto).
const inventoryTCPClose = 10 // optional bool tcp_close

type inventoryEntry struct {
	tcpClose bool
}

func decodeInventory(b []byte) (e inventoryEntry, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, _ []byte) error {
		if num == inventoryTCPClose && typ == varintType {
			e.tcpClose = v != 0
		}
		return nil
	})
	return e, err
}

// pstree_entry (images/pstree.proto).
const (
	pstreePID     = 1 // required uint32 pid
	pstreeThreads = 5 // repeated uint32 threads
)

type pstreeEntry struct {
	pid     uint32
	threads []uint32
}

func decodePstree(b []byte) (e pstreeEntry, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, raw []byte) (err error) {
		switch {
		case num == pstreePID && typ == varintType:
			e.pid = uint32(v)
		case num == pstreeThreads:
			e.threads, err = appendUint32s(e.threads, typ, v, raw)
		}
		return err
	})
	return e, err
}

// core_entry.thread_core (images/core.proto), thread_core_entry.creds.
const (
	coreThreadCore  = 5  // optional thread_core_entry thread_core
	threadCoreCreds = 10 // optional creds_entry creds
)

// coreCreds finds the encoded credentials in a core entry, skipping its
// registers, FPU state and signal actions.
func coreCreds(entry []byte) (raw []byte, found bool, err error) {
	thread, err := messageField(entry, coreThreadCore)
	if err != nil || !thread.found {
		return nil, false, err
	}
	creds, err := messageField(thread.raw, threadCoreCreds)
	return creds.raw, creds.found, err
}

// messageField is the message field num of b, merged.
func messageField(b []byte, num fieldNumber) (m merged, err error) {
	err = eachField(b, func(n fieldNumber, typ wireType, _ uint64, raw []byte) error {
		if n == num && typ == bytesType {
			m.add(raw)
		}
		return nil
	})
	return m, err
}

// creds_entry (images/creds.proto). no_new_privs and cap_amb are newer
// than go-criu v7.2.0's copy of the schema; CRIU 3.18 and later write
// them, and they decide whether restore needs CAP_SETPCAP.
const (
	credsUID        = 1
	credsGID        = 2
	credsEUID       = 3
	credsEGID       = 4
	credsSUID       = 5
	credsSGID       = 6
	credsFSUID      = 7
	credsFSGID      = 8
	credsCapInh     = 9  // repeated uint32 cap_inh
	credsCapPrm     = 10 // repeated uint32 cap_prm
	credsCapEff     = 11 // repeated uint32 cap_eff
	credsCapBnd     = 12 // repeated uint32 cap_bnd
	credsSecbits    = 13
	credsGroups     = 14 // repeated uint32 groups
	credsNoNewPrivs = 18 // optional uint32 no_new_privs
	credsCapAmb     = 19 // repeated uint32 cap_amb
)

type credsEntry struct {
	// ids are uid, gid, euid, egid, suid, sgid, fsuid, fsgid: fields 1 to 8.
	ids                            [8]uint32
	capInh, capPrm, capEff, capBnd []uint32
	capAmb                         []uint32
	secbits                        uint32
	groups                         []uint32
	noNewPrivs                     bool
}

func decodeCreds(b []byte) (e credsEntry, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, raw []byte) (err error) {
		if num >= credsUID && num <= credsFSGID {
			if typ == varintType {
				e.ids[num-credsUID] = uint32(v)
			}
			return nil
		}
		var list *[]uint32
		switch num {
		case credsSecbits:
			if typ == varintType {
				e.secbits = uint32(v)
			}
			return nil
		case credsNoNewPrivs:
			if typ == varintType {
				e.noNewPrivs = uint32(v) != 0
			}
			return nil
		case credsCapInh:
			list = &e.capInh
		case credsCapPrm:
			list = &e.capPrm
		case credsCapEff:
			list = &e.capEff
		case credsCapBnd:
			list = &e.capBnd
		case credsCapAmb:
			list = &e.capAmb
		case credsGroups:
			list = &e.groups
		default:
			return nil
		}
		*list, err = appendUint32s(*list, typ, v, raw)
		return err
	})
	return e, err
}

// remap_file_path_entry (images/remap-file-path.proto).
const remapOrigID = 1 // required uint32 orig_id

func decodeRemapOrigID(b []byte) (id uint32, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, _ []byte) error {
		if num == remapOrigID && typ == varintType {
			id = uint32(v)
		}
		return nil
	})
	return id, err
}

// file_entry (images/fdinfo.proto) and the two kinds the preflight reads.
const (
	fileType = 1 // required fd_types type
	fileID   = 2 // required uint32 id
	fileReg  = 3 // optional reg_file_entry reg
	fileIsk  = 4 // optional inet_sk_entry isk

	fdTypeREG    = 1
	fdTypeINETSK = 4
)

type fileEntry struct {
	typ uint32
	id  uint32
	reg merged
	isk merged
}

func decodeFile(b []byte) (e fileEntry, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, raw []byte) error {
		switch {
		case num == fileType && typ == varintType:
			e.typ = uint32(v)
		case num == fileID && typ == varintType:
			e.id = uint32(v)
		case num == fileReg && typ == bytesType:
			e.reg.add(raw)
		case num == fileIsk && typ == bytesType:
			e.isk.add(raw)
		}
		return nil
	})
	return e, err
}

// reg_file_entry (images/regfile.proto).
const (
	regFlags = 2  // required uint32 flags
	regName  = 6  // required string name
	regSize  = 8  // optional uint64 size
	regExt   = 9  // optional bool ext
	regMode  = 10 // optional uint32 mode
)

type regFileEntry struct {
	flags            uint32
	name             string
	size             uint64
	hasSize, hasMode bool
	mode             uint32
	ext              bool
}

func decodeRegFile(b []byte) (e regFileEntry, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, raw []byte) error {
		if typ == bytesType {
			if num == regName {
				e.name = string(raw)
			}
			return nil
		}
		switch num {
		case regFlags:
			e.flags = uint32(v)
		case regSize:
			e.size, e.hasSize = v, true
		case regExt:
			e.ext = v != 0
		case regMode:
			e.mode, e.hasMode = uint32(v), true
		}
		return nil
	})
	return e, err
}

// inet_sk_entry (images/sk-inet.proto).
const (
	inetProto   = 5  // required uint32 proto
	inetSrcPort = 7  // required uint32 src_port
	inetDstPort = 8  // required uint32 dst_port
	inetSrcAddr = 11 // repeated uint32 src_addr
	inetDstAddr = 12 // repeated uint32 dst_addr
)

type inetSkEntry struct {
	proto, srcPort, dstPort uint32
	srcAddr, dstAddr        []uint32
}

func decodeInetSk(b []byte) (e inetSkEntry, err error) {
	err = eachField(b, func(num fieldNumber, typ wireType, v uint64, raw []byte) (err error) {
		switch {
		case num == inetSrcAddr:
			e.srcAddr, err = appendUint32s(e.srcAddr, typ, v, raw)
		case num == inetDstAddr:
			e.dstAddr, err = appendUint32s(e.dstAddr, typ, v, raw)
		case typ != varintType:
		case num == inetProto:
			e.proto = uint32(v)
		case num == inetSrcPort:
			e.srcPort = uint32(v)
		case num == inetDstPort:
			e.dstPort = uint32(v)
		}
		return err
	})
	return e, err
}
