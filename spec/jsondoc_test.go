package spec

import (
	"errors"
	"testing"
)

// checkDuplicateKeys is the duplicate part of indexing a document.
func checkDuplicateKeys(raw []byte) error {
	_, err := parseDoc(raw)
	return err
}

func TestCheckDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		in   string
		dup  bool
	}{
		{name: "flat", in: `{"a":1,"b":2}`},
		{name: "same key in sibling objects", in: `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}`},
		{name: "top level", in: `{"a":1,"a":2}`, dup: true},
		{name: "nested after an object value", in: `{"a":{"b":{}, "b":1}}`, dup: true},
		{name: "inside an array", in: `{"a":[{"k":1,"k":1}]}`, dup: true},
		{name: "after an array value", in: `{"a":[1,2],"a":3}`, dup: true},
		{name: "string values that look like keys", in: `{"a":"a","b":"a"}`},
		{name: "struct members differing in case", in: `{"process":{},"Process":{}}`, dup: true},
		{name: "nested struct members differing in case", in: `{"linux":{"readonlyPaths":[],"ReadOnlyPaths":[]}}`, dup: true},
		{name: "annotation keys are exact", in: `{"annotations":{"Foo":"1","foo":"2"}}`},
		{name: "sysctl keys are exact", in: `{"linux":{"sysctl":{"net.A":"1","net.a":"2"}}}`},
		{name: "exact annotation duplicate", in: `{"annotations":{"foo":"1","foo":"2"}}`, dup: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDuplicateKeys([]byte(tt.in))
			if errors.Is(err, ErrDuplicateKey) != tt.dup {
				t.Fatalf("err = %v, want duplicate = %v", err, tt.dup)
			}
		})
	}
}
