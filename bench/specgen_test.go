package bench

import (
	"encoding/json"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestGrowSpec(t *testing.T) {
	base, err := os.ReadFile("../spec/testdata/podman-user1000.json")
	if err != nil {
		t.Fatal(err)
	}
	var orig specs.Spec
	if err := json.Unmarshal(base, &orig); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		size int
	}{
		{name: "smaller than the base", size: 1},
		{name: "100 KB", size: 100_000},
		{name: "1 MiB", size: 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := growSpec(base, tt.size, "/srv/crhook-bench/volumes")
			if err != nil {
				t.Fatal(err)
			}
			if len(g.raw) < tt.size || (tt.size > len(base) && len(g.raw) > tt.size+tt.size/10) {
				t.Errorf("got %d bytes, want about %d", len(g.raw), tt.size)
			}
			var s specs.Spec
			if err := json.Unmarshal(g.raw, &s); err != nil {
				t.Fatal(err)
			}
			if len(s.Mounts) != len(orig.Mounts)+g.mounts || len(s.Process.Env) != len(orig.Process.Env)+g.env {
				t.Errorf("mounts %d env %d, want %d and %d", len(s.Mounts), len(s.Process.Env), len(orig.Mounts)+g.mounts, len(orig.Process.Env)+g.env)
			}
			if s.Annotations["io.crhook.restore"] != "true" {
				t.Error("grown spec lost its opt-in annotation")
			}
		})
	}
}
