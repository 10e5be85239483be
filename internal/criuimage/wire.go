package criuimage

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

var errBadField = errors.New("malformed protobuf field")

// eachField calls fn for every field of the protobuf message b, in order,
// with its number, its wire type and its value: v for a varint, raw for
// a length-delimited field. Fixed-size and group fields are checked and
// skipped: no field crhook reads has those types.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadField
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errBadField
		}
		b = b[n:]
		if typ != protowire.VarintType && typ != protowire.BytesType {
			continue
		}
		if err := fn(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

// appendUint32s appends one occurrence of a repeated uint32 field: a
// varint, or a packed run of them. Decoders take both forms.
func appendUint32s(dst []uint32, typ protowire.Type, v uint64, raw []byte) ([]uint32, error) {
	if typ == protowire.VarintType {
		return append(dst, uint32(v)), nil
	}
	for len(raw) > 0 {
		v, n := protowire.ConsumeVarint(raw)
		if n < 0 {
			return nil, errBadField
		}
		dst = append(dst, uint32(v))
		raw = raw[n:]
	}
	return dst, nil
}

// merged holds a message field's bytes: protobuf merges a message field
// given more than once, and decoding the occurrences concatenated does
// exactly that.
type merged struct {
	raw   []byte
	found bool
}

func (m *merged) add(raw []byte) {
	m.raw, m.found = append(m.raw, raw...), true
}
