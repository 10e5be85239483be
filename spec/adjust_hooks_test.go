package spec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

// TestAdjustHooksOfTheWrongType: the hooks member is not among those
// decideOn reads, so patch and the shim check its types before they
// splice an entry in; a spec that holds hooks of the wrong type is bad
// input, and passes unchanged.
func TestAdjustHooksOfTheWrongType(t *testing.T) {
	const base = `{"process":{"user":{"uid":1000}},"linux":{"readonlyPaths":["/proc/sys"],"namespaces":[{"type":"pid"}]}`
	tests := []struct {
		name    string
		hooks   string
		wantErr string
	}{
		{name: "hooks is a string", hooks: `,"hooks":"c"}`, wantErr: "hooks: cannot unmarshal string into an object"},
		{name: "a stage is a string", hooks: `,"hooks":{"poststart":"x"}}`, wantErr: "hooks.poststart: cannot unmarshal string into an array"},
		{name: "a hook's path is a number", hooks: `,"hooks":{"poststart":[{"path":1}]}}`, wantErr: "hooks.poststart[].path: cannot unmarshal number into a string"},
		{name: "hooks in another case", hooks: `,"Hooks":{}}`, wantErr: `"Hooks", spell it "hooks"`},
		{name: "null hooks are replaced", hooks: `,"hooks":null}`},
	}
	want := map[string]specs.Hook{"poststart": {Path: "/usr/local/bin/crhook-hook", Args: []string{"crhook", "poststart"}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(base + tt.hooks)
			res, err := Adjust(raw, Options{Sources: testSources, Policy: DefaultPolicy(), OptIn: true, Hooks: want})
			if tt.wantErr == "" {
				if err != nil || !res.Changed || !bytes.Contains(res.Output, []byte(`"hooks":{"poststart":[{"path":"/usr/local/bin/crhook-hook"`)) {
					t.Fatalf("err %v, output %s", err, res.Output)
				}
				return
			}
			if !errors.Is(err, errkind.ErrBadInput) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want bad input saying %q", err, tt.wantErr)
			}
			if !bytes.Equal(res.Output, raw) {
				t.Fatalf("output changed: %s", res.Output)
			}
		})
	}
}
