package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/crhook/crhook/internal/errkind"
)

func TestAdjustProcess(t *testing.T) {
	minimal := Request{OptedIn: true, Profile: ProfileMinimal}
	// What dockerd writes for docker exec: the container's user and its
	// own capability list, no ambient set.
	docker := `{"user":{"uid":1000,"gid":1000},"args":["crhook","verify"],"env":["PATH=/bin"],"cwd":"/","noNewPrivileges":true,` +
		`"capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],"inheritable":["CAP_KILL"]},"org.example.x":[1]}`
	tests := []struct {
		name      string
		raw       string
		req       Request
		wantSets  []CapSet
		unchanged bool
		wantErr   error
	}{
		{name: "docker exec as uid 1000", raw: docker, req: minimal, wantSets: RequiredSets(1000)},
		{name: "no capabilities at all, as root", raw: `{"user":{"uid":0},"args":["sh"]}`, req: minimal, wantSets: RequiredSets(0)},
		{name: "not opted in", raw: docker, req: Request{}, unchanged: true},
		{name: "already granted", raw: `{"user":{"uid":0},"capabilities":{"bounding":["CAP_CHECKPOINT_RESTORE"],"effective":["CAP_CHECKPOINT_RESTORE"],"permitted":["CAP_CHECKPOINT_RESTORE"]}}`, req: minimal, unchanged: true},
		{name: "not JSON", raw: `exec`, req: minimal, wantErr: errkind.ErrBadInput},
		{name: "member in another case", raw: `{"User":{"uid":0},"user":{"uid":1000}}`, req: minimal, wantErr: errkind.ErrBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := AdjustProcess([]byte(tt.raw), tt.req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || string(res.Output) != tt.raw {
					t.Fatalf("err = %v, want %v and the input back", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.unchanged {
				if res.Changed || string(res.Output) != tt.raw {
					t.Fatalf("changed: %s", res.Output)
				}
				return
			}
			if !strings.Contains(string(res.Output), `"org.example.x":[1]`) && strings.Contains(tt.raw, "org.example.x") {
				t.Error("an unknown member was lost")
			}
			s, err := Parse([]byte(`{"process":` + string(res.Output) + `}`))
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range tt.wantSets {
				if !slices.Contains(setOf(s.Process.Capabilities, set), CapCheckpointRestore) {
					t.Errorf("%s lacks the capability: %s", set, res.Output)
				}
			}
			again, err := AdjustProcess(res.Output, tt.req)
			if err != nil || again.Changed {
				t.Errorf("adjusting twice changed it again: %v", err)
			}
		})
	}
}
