package spec

import (
	"encoding/json"
	"fmt"
	"strings"
)

// keyFrame is one open object or array while checkDuplicateKeys scans.
type keyFrame struct {
	object bool
	// exact: the object decodes into a Go map, whose keys compare
	// exactly; other objects decode into structs, whose member names Go
	// matches under Unicode simple folding.
	exact bool
	// keys holds the names seen so far; past smallObject names they move
	// into index, keyed by their folded (or exact) form.
	keys  []string
	index map[string]struct{}
	// last is the latest member name, so a nested object knows its name.
	last string
}

// smallObject is how many names a frame compares one by one before it
// switches to a map: spec objects are small, hostile ones need not be.
const smallObject = 16

// add records name and reports whether the object already had it.
func (f *keyFrame) add(name string) bool {
	f.last = name
	if f.index == nil {
		for _, k := range f.keys {
			if k == name || (!f.exact && strings.EqualFold(k, name)) {
				return true
			}
		}
		if len(f.keys) < smallObject {
			f.keys = append(f.keys, name)
			return false
		}
		f.index = make(map[string]struct{}, 2*smallObject)
		for _, k := range f.keys {
			f.index[f.key(k)] = struct{}{}
		}
		f.keys = nil
	}
	k := f.key(name)
	if _, dup := f.index[k]; dup {
		return true
	}
	f.index[k] = struct{}{}
	return false
}

func (f *keyFrame) key(name string) string {
	if f.exact {
		return name
	}
	return foldName(name)
}

// maxDepth is encoding/json's nesting limit; deeper input is refused
// before it can grow the scanner's stack.
const maxDepth = 10000

// checkDuplicateKeys scans raw once, without building values, and fails
// on the first object that repeats a member name. It is not a validator:
// malformed JSON is left for the decoder to reject, and the scan only
// guarantees it ends in one pass. It replaced a json.Decoder token walk
// that cost more than the decode itself (FuzzDuplicateKeys holds it to
// that walk).
func checkDuplicateKeys(raw []byte) error {
	var stack []keyFrame
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			if len(stack) >= maxDepth {
				return fmt.Errorf("exceeded max depth %d", maxDepth)
			}
			f := keyFrame{object: raw[i] == '{'}
			if n := len(stack); n > 0 && stack[n-1].object {
				f.exact = isMapMember(stack[n-1].last)
			}
			stack = append(stack, f)
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case '"':
			end, escaped := stringEnd(raw, i)
			if end < 0 {
				return nil // unterminated: the decoder reports it
			}
			n := len(stack)
			if n > 0 && stack[n-1].object && nextIsColon(raw, end+1) {
				name, err := memberName(raw[i:end+1], escaped)
				if err != nil {
					return nil // bad escape: the decoder reports it
				}
				if stack[n-1].add(name) {
					return fmt.Errorf("%w %s", ErrDuplicateKey, quote(name))
				}
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the string that opens
// at raw[start], and whether it holds escapes; -1 if it never closes.
func stringEnd(raw []byte, start int) (int, bool) {
	escaped := false
	for j := start + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

func nextIsColon(raw []byte, j int) bool {
	for ; j < len(raw); j++ {
		switch raw[j] {
		case ' ', '\t', '\r', '\n':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// memberName decodes a quoted member name the way the decoder will: it
// also turns invalid UTF-8 into U+FFFD, so names with bytes past ASCII go
// through it too.
func memberName(quoted []byte, escaped bool) (string, error) {
	if !escaped && ascii(quoted) {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var name string
	err := json.Unmarshal(quoted, &name)
	return name, err
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
