package compat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/spec"
)

const specTestdata = "../../spec/testdata"

// runcSpec is runc's default spec from spec/testdata.
func runcSpec(t *testing.T) *specs.Spec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(specTestdata, "runc-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// TestDockerSeccompFixture holds spec/testdata/docker-seccomp.json, which
// the spec tests and the benchmarks use as Docker's default profile, to
// what moby/profiles resolves for runc's default spec today.
func TestDockerSeccompFixture(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the fixture is the amd64 profile")
	}
	want, err := seccomp.GetDefaultProfile(runcSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(specTestdata, "docker-seccomp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got specs.LinuxSeccomp
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		fresh, _ := json.MarshalIndent(want, "", "\t")
		t.Fatalf("spec/testdata/docker-seccomp.json is not moby/profiles' profile any more; replace it with:\n%s", fresh)
	}
}

// TestClone3VerdictOfDockerProfile: Docker's profile answers ENOSYS for
// clone3 without CAP_SYS_ADMIN, which crhook must open, and lets it
// through with CAP_SYS_ADMIN, which crhook never grants.
func TestClone3VerdictOfDockerProfile(t *testing.T) {
	tests := []struct {
		name    string
		admin   bool
		allowed bool
	}{
		{name: "without CAP_SYS_ADMIN", allowed: false},
		{name: "with CAP_SYS_ADMIN", admin: true, allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runcSpec(t)
			if tt.admin {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
			}
			profile, err := seccomp.GetDefaultProfile(s)
			if err != nil {
				t.Fatal(err)
			}
			if v := spec.Clone3Verdict(profile); v.Allowed != tt.allowed {
				t.Fatalf("clone3 allowed = %v, want %v (%s)", v.Allowed, tt.allowed, v.Why)
			}
		})
	}
}
