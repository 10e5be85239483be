package spec

import (
	"encoding/json"
	"testing"
)

// TestFoldNameMatchesDecoder checks the duplicate-key check against its
// oracle: two spellings fold alike exactly when Go's decoder (runc's)
// would put both into the same struct field.
func TestFoldNameMatchesDecoder(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{name: "exact", key: "noNewPrivileges"},
		{name: "ASCII case", key: "NONEWPRIVILEGES"},
		{name: "long s (U+017F)", key: "noNewPrivilege\u017f"},
		{name: "Kelvin sign (U+212A) for k", key: "\u212aill"},
		{name: "dotless i (U+0131) is not i", key: "noNewPr\u0131vileges"},
		{name: "dotted capital I (U+0130) is not i", key: "noNewPr\u0130vileges"},
		{name: "other word", key: "noNewPrivilege"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var target struct {
				NoNewPrivileges bool `json:"noNewPrivileges"`
				Kill            bool `json:"kill"`
			}
			if err := json.Unmarshal([]byte(`{"`+tt.key+`":true}`), &target); err != nil {
				t.Fatal(err)
			}
			decoded := target.NoNewPrivileges || target.Kill
			folded := foldName(tt.key) == foldName("noNewPrivileges") || foldName(tt.key) == foldName("kill")
			if decoded != folded {
				t.Errorf("Go's decoder matched %q: %v; foldName says %v", tt.key, decoded, folded)
			}
		})
	}
}
