package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceDuplicateKeys is the slow, obviously right check: walk
// json.Decoder tokens. The fuzz target below holds the document index's
// duplicate checks (jsontext's exact ones and crhook's folded ones) to it
// on every valid document.
func referenceDuplicateKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		keys      []string
		object    bool
		exact     bool
		expectKey bool
		last      string
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				exact := false
				if top >= 0 && stack[top].object {
					stack[top].expectKey = true
					exact = isMapMember([]byte(stack[top].last))
				}
				stack = append(stack, frame{object: d == '{', exact: exact, expectKey: true})
			default:
				stack = stack[:top]
			}
			continue
		}
		if top < 0 || !stack[top].object {
			continue
		}
		if !stack[top].expectKey {
			stack[top].expectKey = true
			continue
		}
		name := tok.(string)
		for _, k := range stack[top].keys {
			if k == name || (!stack[top].exact && foldName(k) == foldName(name)) {
				return fmt.Errorf("%w %s", ErrDuplicateKey, quote(name))
			}
		}
		stack[top].keys = append(stack[top].keys, name)
		stack[top].expectKey = false
		stack[top].last = name
	}
}

func FuzzDuplicateKeys(f *testing.F) {
	for _, name := range []string{"runc-spec.json", "podman-user1000.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		`{"a":1,"A":2}`, `{"annotations":{"a":1,"A":2}}`, `{"Annotations":{"a":1,"A":2}}`,
		`{"a\u0041":1,"aA":2}`, `{"noNewPrivilege\u017f":1,"noNewPrivileges":2}`,
		`{"k":[{"x":1},{"x":2}],"k2":{"x":{"x":1}}}`, `{"s":"\"a\":1","a":2}`,
		`{"sysctl":{"` + "\xff" + `":1,"\ufffd":2}}`,
		`{"a":{"b":1,"c":2,"d":3,"e":4,"f":5,"g":6,"h":7,"i":8,"j":9,"k":10,"l":11,"m":12,"n":13,"o":14,"p":15,"q":16,"r":17,"B":18}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := checkDuplicateKeys(raw)
		if got == nil {
			checkIndexFaithful(t, raw)
		}
		if !json.Valid(raw) {
			return // only termination matters here; the decoder rejects it
		}
		if !utf8.Valid(raw) {
			// Go's decoder turns invalid UTF-8 into U+FFFD; crhook refuses it.
			if got == nil {
				t.Fatalf("invalid UTF-8 accepted: %q", raw)
			}
			return
		}
		want := referenceDuplicateKeys(raw)
		if errors.Is(got, ErrDuplicateKey) != errors.Is(want, ErrDuplicateKey) {
			t.Fatalf("scanner says %v, reference says %v, for %q", got, want, raw)
		}
	})
}

func TestDuplicateKeysDepth(t *testing.T) {
	deep := strings.Repeat("[", 1<<20)
	if err := checkDuplicateKeys([]byte(`{"a":` + deep)); err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Fatalf("err = %v", err)
	}
}

// checkIndexFaithful holds the index of raw to encoding/json: the value
// rebuilt from the index, flat containers read in place or expanded,
// is the value json.Unmarshal gives.
func checkIndexFaithful(t *testing.T, raw []byte) {
	t.Helper()
	var want any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("indexed, but encoding/json refuses %q: %v", raw, err)
	}
	for _, expand := range []bool{false, true} {
		d, err := parseDoc(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := indexValue(t, d, d.nodes[0], 0, expand)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("expand=%v: index gives %#v, encoding/json %#v, for %q", expand, got, want, raw)
		}
	}
}

// indexValue rebuilds value n (node i of d, or -1 for a child of a flat
// container) from the index.
func indexValue(t *testing.T, d *doc, n node, i int, expand bool) any {
	t.Helper()
	if n.kind != '{' && n.kind != '[' {
		var v any
		if err := json.Unmarshal(d.raw[n.start:n.end], &v); err != nil {
			t.Fatalf("scalar %q: %v", d.raw[n.start:n.end], err)
		}
		return v
	}
	var children []node
	var indices []int
	if n.flat && !expand || i < 0 {
		d.flatChildren(n, func(c node) { children, indices = append(children, c), append(indices, -1) })
	} else {
		for c := d.firstChild(i); c >= 0; c = d.next(c) {
			children, indices = append(children, d.nodes[c]), append(indices, c)
		}
	}
	if n.kind == '[' {
		out := []any{}
		for k, c := range children {
			out = append(out, indexValue(t, d, c, indices[k], expand))
		}
		return out
	}
	out := map[string]any{}
	for k, c := range children {
		out[string(d.nameOf(&c))] = indexValue(t, d, c, indices[k], expand)
	}
	return out
}

func TestIndexFaithful(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "flat array of every scalar", in: `{"a":[1, -2.5e3 ,"x\"y,]" , true,false,null,"\u00e9"]}`},
		{name: "flat object with a flat array", in: `{"m":[{"destination":"/a","options":["ro", "nosuid"],"n":1},{"type":"bind" , "options" : [ ] }]}`},
		{name: "escaped names in a flat object", in: `{"m":{"a\u0062":1,"q\"":"v"}}`},
		{name: "arrays of arrays", in: `{"a":[[1,2],[],[[3]]],"b":{"c":[[]]}}`},
		{name: "white space everywhere", in: " { \"a\" : [ 1 , 2 ] , \"b\" : { \"c\" : \"d\" } } "},
		{name: "nested objects", in: `{"process":{"user":{"uid":1000},"capabilities":{"bounding":["CAP_A"]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkIndexFaithful(t, []byte(tt.in)) })
	}
}
