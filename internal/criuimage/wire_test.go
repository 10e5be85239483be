package criuimage

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// protowireFields is eachField written with protowire, the reference.
func protowireFields(b []byte) (fields []field, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errBadField
		}
		b = b[n:]
		f := field{num: fieldNumber(num), typ: wireType(typ)}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, errBadField
		}
		b = b[n:]
		if typ == protowire.VarintType || typ == protowire.BytesType {
			fields = append(fields, f)
		}
	}
	return fields, nil
}

type field struct {
	num fieldNumber
	typ wireType
	v   uint64
	raw []byte
}

// ownFields collects what eachField reads; nothing, on an error.
func ownFields(b []byte) ([]field, error) {
	var fields []field
	err := eachField(b, func(num fieldNumber, typ wireType, v uint64, raw []byte) error {
		fields = append(fields, field{num, typ, v, raw})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fields, nil
}

func sameFields(a, b []field) bool {
	return slices.EqualFunc(a, b, func(x, y field) bool {
		return x.num == y.num && x.typ == y.typ && x.v == y.v && string(x.raw) == string(y.raw)
	})
}

func TestEachField(t *testing.T) {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	group := func(num protowire.Number, inner ...[]byte) []byte {
		return cat(tag(num, protowire.StartGroupType), cat(inner...), tag(num, protowire.EndGroupType))
	}
	varint := func(v uint64) []byte { return protowire.AppendVarint(nil, v) }
	tests := []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"empty", nil, true},
		{"varint and bytes", cat(tag(1, protowire.VarintType), varint(300), tag(2, protowire.BytesType), varint(3), []byte("abc")), true},
		{"largest varint", cat(tag(1, protowire.VarintType), varint(1<<64-1)), true},
		{"varint of 11 bytes", cat(tag(1, protowire.VarintType), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), false},
		{"tenth byte above 1", cat(tag(1, protowire.VarintType), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), false},
		{"truncated varint", cat(tag(1, protowire.VarintType), []byte{0x80}), false},
		{"bytes longer than the message", cat(tag(2, protowire.BytesType), varint(9), []byte("abc")), false},
		{"field number 0", cat(varint(0), varint(1)), false},
		{"largest field number", cat(tag(protowire.MaxValidNumber, protowire.VarintType), varint(1)), true},
		{"field number above int32", cat(varint(uint64(1<<31)<<3), varint(1)), false},
		{"fixed32 and fixed64 skipped", cat(tag(3, protowire.Fixed32Type), []byte{1, 2, 3, 4}, tag(4, protowire.Fixed64Type), make([]byte, 8), tag(1, protowire.VarintType), varint(7)), true},
		{"short fixed64", cat(tag(4, protowire.Fixed64Type), make([]byte, 7)), false},
		{"group skipped", cat(group(5, tag(1, protowire.VarintType), varint(1), group(6)), tag(1, protowire.VarintType), varint(2)), true},
		{"group closed by another field", cat(tag(5, protowire.StartGroupType), tag(6, protowire.EndGroupType)), false},
		{"group never closed", cat(tag(5, protowire.StartGroupType), tag(1, protowire.VarintType), varint(1)), false},
		{"end group alone", tag(5, protowire.EndGroupType), false},
		{"reserved wire type 6", cat(varint(1<<3|6), varint(1)), false},
		{"groups nested too deep", cat(slices.Repeat(tag(5, protowire.StartGroupType), maxGroupDepth+2), slices.Repeat(tag(5, protowire.EndGroupType), maxGroupDepth+2)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ownFields(tt.msg)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errBadField)) {
				t.Fatalf("eachField: %v, want ok %v", err, tt.ok)
			}
			want, wantErr := protowireFields(tt.msg)
			if (err == nil) != (wantErr == nil) || !sameFields(got, want) {
				t.Errorf("eachField %v, %v; protowire %v, %v", got, err, want, wantErr)
			}
		})
	}
}

// FuzzEachFieldMatchesProtowire: on any input, eachField accepts what
// protowire accepts and reads the same fields.
func FuzzEachFieldMatchesProtowire(f *testing.F) {
	f.Add([]byte{0x08, 0xac, 0x02, 0x12, 0x01, 'a'})
	f.Add([]byte{0x2b, 0x08, 0x01, 0x2c})
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := ownFields(msg)
		want, wantErr := protowireFields(msg)
		if (err == nil) != (wantErr == nil) || !sameFields(got, want) {
			t.Errorf("eachField %v, %v; protowire %v, %v", got, err, want, wantErr)
		}
	})
}
