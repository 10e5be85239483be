package spec

import (
	"bytes"
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Parse decodes a config.json strictly enough to act on it: it must be one
// JSON object with no repeated member and fields of the right types.
// Unknown fields are allowed; Adjust keeps them.
func Parse(raw []byte) (*specs.Spec, error) {
	if err := checkObject(raw); err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, BadInput(fmt.Errorf("parse spec: %w", err))
	}
	return &s, nil
}

// ParseState decodes the state a runtime passes to a hook on stdin.
func ParseState(raw []byte) (*specs.State, error) {
	if err := checkObject(raw); err != nil {
		return nil, err
	}
	var st specs.State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, BadInput(fmt.Errorf("parse state: %w", err))
	}
	return &st, nil
}

func checkObject(raw []byte) error {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return BadInput(fmt.Errorf("parse: input is empty"))
	}
	if trimmed[0] != '{' {
		return BadInput(fmt.Errorf("parse: input is not a JSON object"))
	}
	if err := checkDuplicateKeys(raw); err != nil {
		return BadInput(fmt.Errorf("parse: %w", err))
	}
	return nil
}
