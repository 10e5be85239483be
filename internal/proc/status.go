package proc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is the part of /proc/PID/status crhook reads.
type Status struct {
	// UID is the effective uid.
	UID uint32
	// UIDs and GIDs are the real, effective, saved and filesystem ids.
	UIDs, GIDs [4]uint32
	// Groups are the supplementary groups.
	Groups []uint32
	// Capability sets as bit masks, bit n for capability n.
	Inheritable, Permitted, Effective, Bounding, Ambient uint64
	NoNewPrivs                                           bool
	// Seccomp is 0 (none), 1 (strict) or 2 (filter).
	Seccomp int
	// NSpid is the process's PID in each PID namespace it is in, from
	// the reader's down to its own.
	NSpid []int
}

// ErrIncomplete marks a status without the lines crhook needs.
var ErrIncomplete = errors.New("status is incomplete")

// ParseStatus parses /proc/PID/status text. Lines it does not use are
// skipped; the Uid and Cap* lines must all be there.
func ParseStatus(r io.Reader) (Status, error) {
	var st Status
	fields := map[string]*uint64{
		"CapInh": &st.Inheritable, "CapPrm": &st.Permitted, "CapEff": &st.Effective,
		"CapBnd": &st.Bounding, "CapAmb": &st.Ambient,
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		var err error
		switch key {
		case "Uid":
			err = parseIDs(value, &st.UIDs)
			st.UID = st.UIDs[1]
		case "Gid":
			err = parseIDs(value, &st.GIDs)
		case "Groups":
			st.Groups, err = parseGroups(value)
		case "NoNewPrivs":
			st.NoNewPrivs = value == "1"
		case "Seccomp":
			st.Seccomp, err = strconv.Atoi(value)
		case "NSpid":
			st.NSpid, err = parsePIDs(value)
		default:
			dst, ok := fields[key]
			if !ok {
				continue
			}
			*dst, err = strconv.ParseUint(value, 16, 64)
		}
		if err != nil {
			return Status{}, fmt.Errorf("parse status %s: %w", key, err)
		}
		seen[key] = true
	}
	if err := sc.Err(); err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	for _, key := range []string{"Uid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if !seen[key] {
			return Status{}, fmt.Errorf("%w: no %s line", ErrIncomplete, key)
		}
	}
	return st, nil
}

// parseIDs reads the four ids of a Uid or Gid line: real, effective,
// saved, filesystem.
func parseIDs(value string, ids *[4]uint32) error {
	f := strings.Fields(value)
	if len(f) != 4 {
		return fmt.Errorf("want 4 ids, got %d", len(f))
	}
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return err
		}
		ids[i] = uint32(n)
	}
	return nil
}

// maxGroups is the kernel's NGROUPS_MAX.
const maxGroups = 65536

func parseGroups(value string) ([]uint32, error) {
	f := strings.Fields(value)
	if len(f) > maxGroups {
		return nil, fmt.Errorf("%d groups, more than %d", len(f), maxGroups)
	}
	groups := make([]uint32, 0, len(f))
	for _, s := range f {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, err
		}
		groups = append(groups, uint32(n))
	}
	return groups, nil
}

// maxPIDNamespaces bounds an NSpid line: the kernel nests PID namespaces
// at most 32 deep.
const maxPIDNamespaces = 33

func parsePIDs(value string) ([]int, error) {
	f := strings.Fields(value)
	if len(f) > maxPIDNamespaces {
		return nil, fmt.Errorf("%d PID namespaces, more than %d", len(f), maxPIDNamespaces)
	}
	pids := make([]int, len(f))
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return nil, err
		}
		pids[i] = int(n)
	}
	return pids, nil
}

// OwnPIDNamespace reports whether the process is the first of a PID
// namespace it created: PID 1 in the innermost one, as a container's
// init is in the namespace its runtime created for it. A process that
// joined another's namespace (a pod's, or the host's) is not its PID 1.
func (s Status) OwnPIDNamespace() bool {
	return len(s.NSpid) > 1 && s.NSpid[len(s.NSpid)-1] == 1
}

// Set returns the named capability set ("bounding", "effective", ...).
func (s Status) Set(name string) (uint64, bool) {
	switch name {
	case "bounding":
		return s.Bounding, true
	case "effective":
		return s.Effective, true
	case "permitted":
		return s.Permitted, true
	case "inheritable":
		return s.Inheritable, true
	case "ambient":
		return s.Ambient, true
	}
	return 0, false
}

// Has reports whether mask holds capability number capNum.
func Has(mask uint64, capNum int) bool {
	return capNum >= 0 && capNum < 64 && mask&(1<<uint(capNum)) != 0
}
