package criuimage

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var errBadField = errors.New("malformed protobuf field")

// eachVarint calls fn for every integer of raw: plain varint fields, and
// each element of packed ones. Fields of other types are skipped.
func eachVarint(raw protoreflect.RawFields, fn func(num int32, v uint64)) error {
	b := []byte(raw)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadField
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errBadField
			}
			fn(int32(num), v)
			b = b[n:]
		case protowire.BytesType:
			packed, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadField
			}
			for len(packed) > 0 {
				v, m := protowire.ConsumeVarint(packed)
				if m < 0 {
					return errBadField
				}
				fn(int32(num), v)
				packed = packed[m:]
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errBadField
			}
			b = b[n:]
		}
	}
	return nil
}

// embedded returns the bytes of message field num of the message b, the
// occurrences concatenated: protobuf merges a message field given twice,
// and decoding the concatenation does exactly that. found is false when
// b has no such field; every other field is skipped, not decoded.
func embedded(b []byte, num protowire.Number) (value []byte, found bool, err error) {
	for len(b) > 0 {
		n, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return nil, false, errBadField
		}
		b = b[m:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false, errBadField
			}
			value, found = append(value, v...), true
			b = b[m:]
			continue
		}
		m = protowire.ConsumeFieldValue(n, typ, b)
		if m < 0 {
			return nil, false, errBadField
		}
		b = b[m:]
	}
	return value, found, nil
}

// fieldNumber is the number of message m's field name in go-criu's
// schema.
func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
}
