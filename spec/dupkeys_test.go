package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// referenceDuplicateKeys is the slow, obviously right check the scanner
// replaced: walk json.Decoder tokens. The fuzz target below holds the
// scanner to it on every valid document.
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
					exact = isMapMember(stack[top].last)
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
		if !json.Valid(raw) {
			return // only termination matters here; the decoder rejects it
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
