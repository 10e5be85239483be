package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/crhook/crhook/internal/errkind"
)

// object is one JSON object whose members crhook may not know. Editing
// through it keeps every member it does not touch exactly as it was (up
// to whitespace), so newer spec fields and runtime extensions survive.
type object map[string]json.RawMessage

// decodeObject decodes raw as an object; absent or null gives an empty one.
func decodeObject(raw json.RawMessage) (object, error) {
	o := object{}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return o, nil
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	return o, nil
}

// ErrMemberCase marks a member spelled with other letter case than the
// runtime spec's. Go's decoder (runc, crhook) matches member names without
// regard to case and crun's does not, so such a spec means different
// things to different runtimes.
var ErrMemberCase = errors.New("member name in the wrong letter case")

// get returns member key. It refuses an object that also holds key in
// another letter case, or only in another case.
func (o object) get(key string) (json.RawMessage, bool, error) {
	for k := range o {
		if k != key && strings.EqualFold(k, key) {
			return nil, false, errkind.BadInput(fmt.Errorf("%w: %q, spell it %q", ErrMemberCase, k, key))
		}
	}
	raw, ok := o[key]
	return raw, ok, nil
}

// child decodes the object member key, creating it when absent.
func (o object) child(key string) (object, error) {
	raw, _, err := o.get(key)
	if err != nil {
		return nil, err
	}
	c, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return c, nil
}

// set stores v, encoded, as member key.
func (o object) set(key string, v any) error {
	if child, ok := v.(object); ok {
		o[key] = child.encode()
		return nil
	}
	b, err := marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	o[key] = b
	return nil
}

// encode writes o with its members sorted by name, as encoding/json
// orders map keys, and each member's value as the bytes it holds: a member
// crhook did not touch keeps its exact text, and nothing is re-scanned.
func (o object) encode() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, key := range slices.Sorted(maps.Keys(o)) {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := marshal(key) // a string always encodes
		b.Write(name)
		b.WriteByte(':')
		b.Write(o[key])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// decode decodes member key into dst when it is present, and reports
// whether it was.
func (o object) decode(key string, dst any) (bool, error) {
	raw, ok, err := o.get(key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return true, fmt.Errorf("%s: %w", key, err)
	}
	return true, nil
}

// strings decodes the string array member key (absent or null gives nil).
func (o object) strings(key string) ([]string, error) {
	var list []string
	_, err := o.decode(key, &list)
	return list, err
}

// marshal encodes v without escaping <, > and &, so strings crhook passes
// through keep their bytes.
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrDuplicateKey marks JSON with an object member given twice, or, for
// struct members, twice in different letter case. Parsers disagree on
// which copy wins (Go takes the last and ignores case, others take the
// first), so such a spec could mean one thing to crhook and another to
// the runtime.
var ErrDuplicateKey = errors.New("duplicate key")

// mapMembers are the spec members that decode into Go maps, whose keys
// are compared exactly; every other object decodes into a struct, whose
// member names Go matches without regard to case.
var mapMembers = []string{"annotations", "sysctl", "unified", "rdma", "netDevices"}

// isMapMember reports whether member name (matched as Go's decoder
// matches it to a field) holds a map.
func isMapMember(name string) bool {
	return slices.ContainsFunc(mapMembers, func(m string) bool { return strings.EqualFold(m, name) })
}

// foldName folds a member name as Go's decoder does when it matches a
// name to a struct field: each rune becomes the smallest rune of its
// Unicode simple-fold orbit (strings.EqualFold's relation). strings.ToLower
// is not that: Go also matches "ſ" (U+017F) to "s", so "noNewPrivilegeſ"
// would pass as a second noNewPrivileges, and the one that wins would
// change when Adjust re-encodes the object in sorted order.
func foldName(name string) string {
	return strings.Map(func(r rune) rune {
		for {
			f := unicode.SimpleFold(r)
			if f <= r {
				return f
			}
			r = f
		}
	}, name)
}

// list decodes the array member key as raw elements (absent gives nil).
func (o object) list(key string) ([]json.RawMessage, error) {
	var elems []json.RawMessage
	_, err := o.decode(key, &elems)
	return elems, err
}
