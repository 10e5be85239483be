package criuimage

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
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
