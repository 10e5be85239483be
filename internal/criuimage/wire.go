package criuimage

import (
	"encoding/binary"
	"errors"
)

// The protobuf wire format, as far as the entries need it. It is decoded
// here rather than with google.golang.org/protobuf/encoding/protowire,
// whose package brings protobuf's internal/detrand: that package hashes
// the running binary at start, in every crhook process, whatever its
// command. The rules are protowire's, and FuzzEachFieldMatchesProtowire
// holds them to it.

// fieldNumber is a field's number in its message's schema.
type fieldNumber int32

// wireType says how a field's value is encoded.
type wireType int8

const (
	varintType     wireType = 0
	fixed64Type    wireType = 1
	bytesType      wireType = 2
	startGroupType wireType = 3
	endGroupType   wireType = 4
	fixed32Type    wireType = 5
)

// maxGroupDepth is how deep groups may nest in a skipped field, as
// protowire's DefaultRecursionLimit.
const maxGroupDepth = 10000

var errBadField = errors.New("malformed protobuf field")

// eachField calls fn for every field of the protobuf message b, in order,
// with its number, its wire type and its value: v for a varint, raw for
// a length-delimited field. Fixed-size and group fields are checked and
// skipped: no field crhook reads has those types.
func eachField(b []byte, fn func(num fieldNumber, typ wireType, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n <= 0 {
			return errBadField
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case varintType:
			v, n = binary.Uvarint(b)
		case bytesType:
			raw, n = consumeBytes(b)
		default:
			n = skipValue(num, typ, b, maxGroupDepth)
		}
		if n <= 0 {
			return errBadField
		}
		b = b[n:]
		if typ != varintType && typ != bytesType {
			continue
		}
		if err := fn(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

// consumeTag reads a field's key. n is not positive when b does not
// start with a valid one.
func consumeTag(b []byte) (fieldNumber, wireType, int) {
	key, n := binary.Uvarint(b)
	if n <= 0 || key>>3 == 0 || key>>3 > 1<<31-1 {
		return 0, 0, -1
	}
	return fieldNumber(key >> 3), wireType(key & 7), n
}

// consumeBytes reads a length-delimited value.
func consumeBytes(b []byte) ([]byte, int) {
	size, n := binary.Uvarint(b)
	if n <= 0 || size > uint64(len(b)-n) {
		return nil, -1
	}
	return b[n : n+int(size)], n + int(size)
}

// skipValue returns the length of a value of type typ at the start of b,
// or -1 when it is malformed. A group's value runs to the end-group key
// of the same field and includes it.
func skipValue(num fieldNumber, typ wireType, b []byte, depth int) int {
	switch typ {
	case varintType:
		_, n := binary.Uvarint(b)
		return n
	case fixed32Type:
		return fixedLen(b, 4)
	case fixed64Type:
		return fixedLen(b, 8)
	case bytesType:
		_, n := consumeBytes(b)
		return n
	case startGroupType:
		if depth < 0 {
			return -1
		}
		whole := len(b)
		for {
			inner, innerType, n := consumeTag(b)
			if n <= 0 {
				return -1
			}
			b = b[n:]
			if innerType == endGroupType {
				if inner != num {
					return -1
				}
				return whole - len(b)
			}
			if n = skipValue(inner, innerType, b, depth-1); n <= 0 {
				return -1
			}
			b = b[n:]
		}
	}
	return -1
}

func fixedLen(b []byte, size int) int {
	if len(b) < size {
		return -1
	}
	return size
}

// appendUint32s appends one occurrence of a repeated uint32 field: a
// varint, or a packed run of them. Decoders take both forms.
func appendUint32s(dst []uint32, typ wireType, v uint64, raw []byte) ([]uint32, error) {
	if typ == varintType {
		return append(dst, uint32(v)), nil
	}
	for len(raw) > 0 {
		v, n := binary.Uvarint(raw)
		if n <= 0 {
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
