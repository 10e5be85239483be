package spec

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

func TestVerify(t *testing.T) {
	host := Host{CapLastCap: 40}
	req := Request{OptedIn: true, Profile: ProfileMinimal}
	adjusted := func(t *testing.T, s *specs.Spec) *specs.Spec {
		res, err := Adjust(encode(t, optIn(s, "")), Options{Policy: DefaultPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		out, err := Parse(res.Output)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name string
		spec func(t *testing.T) *specs.Spec
		host Host
		want []error
	}{
		{name: "adjusted runc spec", spec: func(t *testing.T) *specs.Spec { return adjusted(t, runcSpec(t)) }, host: host},
		{name: "adjusted docker-like spec", spec: func(t *testing.T) *specs.Spec { return adjusted(t, withDockerSeccomp(t, runcSpec(t))) }, host: host},
		{name: "unadjusted runc spec", spec: func(t *testing.T) *specs.Spec { return runcSpec(t) }, host: host, want: []error{ErrCapabilitiesMissing}},
		{name: "old kernel", spec: func(t *testing.T) *specs.Spec { return adjusted(t, runcSpec(t)) }, host: Host{CapLastCap: 38}, want: []error{ErrKernelTooOld}},
		{
			name: "everything wrong at once",
			spec: func(t *testing.T) *specs.Spec {
				s := withDockerSeccomp(t, runcSpec(t))
				s.Linux.ReadonlyPaths = nil
				return s
			},
			host: Host{CapLastCap: 39},
			want: []error{ErrKernelTooOld, ErrProcSysWritable, ErrClone3Blocked},
		},
		{name: "no process", spec: func(t *testing.T) *specs.Spec { s := runcSpec(t); s.Process = nil; return s }, host: host, want: []error{errkind.ErrBadInput}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.spec(t), req, tt.host)
			if (err == nil) != (len(tt.want) == 0) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, ErrProcSysWritable) && errors.Is(err, ErrCapabilitiesMissing) {
				t.Error("with /proc/sys writable, missing capabilities are its consequence, not a second finding")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want it to include %v", err, w)
				}
			}
		})
	}
}
