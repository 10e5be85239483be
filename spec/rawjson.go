package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// child decodes the object member key, creating it when absent.
func (o object) child(key string) (object, error) {
	c, err := decodeObject(o[key])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return c, nil
}

// set stores v, encoded, as member key.
func (o object) set(key string, v any) error {
	b, err := marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	o[key] = b
	return nil
}

// strings decodes the string array member key (absent or null gives nil).
func (o object) strings(key string) ([]string, error) {
	var list []string
	if raw, ok := o[key]; ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return list, nil
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

// ErrDuplicateKey marks JSON with an object member given twice. Parsers
// disagree on which copy wins (Go takes the last, others the first), so a
// spec like that could mean one thing to crhook and another to the runtime.
var ErrDuplicateKey = errors.New("duplicate key")

// checkDuplicateKeys walks raw and fails on the first object that repeats
// a member name.
func checkDuplicateKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		keys      map[string]struct{}
		isObject  bool
		expectKey bool
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
			case '{':
				if top >= 0 && stack[top].isObject {
					stack[top].expectKey = true
				}
				stack = append(stack, frame{isObject: true, expectKey: true})
			case '[':
				if top >= 0 && stack[top].isObject {
					stack[top].expectKey = true
				}
				stack = append(stack, frame{})
			case '}', ']':
				stack = stack[:top]
			}
			continue
		}
		if top < 0 || !stack[top].isObject {
			continue
		}
		if !stack[top].expectKey {
			stack[top].expectKey = true
			continue
		}
		key := tok.(string)
		if stack[top].keys == nil {
			stack[top].keys = map[string]struct{}{}
		}
		if _, dup := stack[top].keys[key]; dup {
			return fmt.Errorf("%w %q", ErrDuplicateKey, key)
		}
		stack[top].keys[key] = struct{}{}
		stack[top].expectKey = false
	}
}
