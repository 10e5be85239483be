package spec

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMissingCapabilities(t *testing.T) {
	cr := []string{CapCheckpointRestore}
	all := []string{"CAP_KILL", CapCheckpointRestore}
	tests := []struct {
		name string
		caps *specs.LinuxCapabilities
		uid  uint32
		want []SetGap
	}{
		{name: "nil capabilities as root", uid: 0, want: []SetGap{{Bounding, cr}, {Effective, cr}, {Permitted, cr}}},
		{name: "root holds it", uid: 0, caps: &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}},
		{name: "non-root without ambient", uid: 1000, caps: &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all},
			want: []SetGap{{Inheritable, cr}, {Ambient, cr}}},
		{name: "non-root with all five", uid: 1000, caps: &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all}},
		// runc looks names up exactly ("CAP_" + upper case) and ignores
		// others, so a lower-case name grants nothing.
		{name: "lower-case names do not count", uid: 0, caps: &specs.LinuxCapabilities{Bounding: []string{"cap_checkpoint_restore"}, Effective: cr, Permitted: cr},
			want: []SetGap{{Bounding, cr}}},
		{name: "unknown names are kept and ignored", uid: 0, caps: &specs.LinuxCapabilities{Bounding: []string{"CAP_FROM_THE_FUTURE"}, Effective: cr, Permitted: cr},
			want: []SetGap{{Bounding, cr}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MissingCapabilities(tt.caps, tt.uid, cr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
