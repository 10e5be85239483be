package spec

import (
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/crhook/crhook/internal/errkind"
)

func TestVerify(t *testing.T) {
	host := Host{CapLastCap: 40, Sources: testSources}
	req := Request{OptedIn: true, Profile: ProfileMinimal}
	adjusted := func(t *testing.T, s *specs.Spec) *specs.Spec {
		res, err := Adjust(encode(t, optIn(s, "")), Options{Sources: testSources, Policy: DefaultPolicy()})
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
		{name: "old kernel", spec: func(t *testing.T) *specs.Spec { return adjusted(t, runcSpec(t)) }, host: Host{CapLastCap: 38, Sources: testSources}, want: []error{ErrKernelTooOld}},
		{
			name: "everything wrong at once",
			spec: func(t *testing.T) *specs.Spec {
				s := withDockerSeccomp(t, runcSpec(t))
				s.Linux.ReadonlyPaths = nil
				return s
			},
			host: Host{CapLastCap: 39, Sources: testSources},
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

func TestVerifyCheckpointSeccomp(t *testing.T) {
	host := Host{CapLastCap: 40, Sources: testSources}
	granted := func(t *testing.T, s *specs.Spec, profile Profile) *specs.Spec {
		t.Helper()
		gaps := MissingCapabilities(s.Process.Capabilities, s.Process.User.UID, profile.Capabilities())
		for _, g := range gaps {
			switch g.Set {
			case Bounding:
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, g.Missing...)
			case Effective:
				s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, g.Missing...)
			case Permitted:
				s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, g.Missing...)
			case Inheritable:
				s.Process.Capabilities.Inheritable = append(s.Process.Capabilities.Inheritable, g.Missing...)
			case Ambient:
				s.Process.Capabilities.Ambient = append(s.Process.Capabilities.Ambient, g.Missing...)
			}
		}
		return s
	}
	openClone3 := func(s *specs.Spec) *specs.Spec {
		rules := slices.DeleteFunc(s.Linux.Seccomp.Syscalls, func(r specs.LinuxSyscall) bool { return slices.Contains(r.Names, Clone3) })
		s.Linux.Seccomp.Syscalls = append(rules, specs.LinuxSyscall{Names: []string{Clone3}, Action: specs.ActAllow})
		return s
	}
	tests := []struct {
		name    string
		spec    *specs.Spec
		profile Profile
		mode    CheckpointSeccompMode
		wantErr bool
	}{
		{name: "checkpoint, no seccomp", spec: granted(t, runcSpec(t), ProfileCheckpoint), profile: ProfileCheckpoint, mode: CheckpointSeccompRefuse},
		{name: "checkpoint under a filter, refused", spec: openClone3(granted(t, withDockerSeccomp(t, runcSpec(t)), ProfileCheckpoint)), profile: ProfileCheckpoint,
			mode: CheckpointSeccompRefuse, wantErr: true},
		{name: "checkpoint under a filter, kept", spec: openClone3(granted(t, withDockerSeccomp(t, runcSpec(t)), ProfileCheckpoint)), profile: ProfileCheckpoint,
			mode: CheckpointSeccompKeep},
		{name: "checkpoint, runc's empty profile installs no filter", spec: func() *specs.Spec {
			s := granted(t, runcSpec(t), ProfileCheckpoint)
			s.Linux.Seccomp = &specs.LinuxSeccomp{}
			return s
		}(), profile: ProfileCheckpoint},
		{name: "minimal under a filter is fine", spec: openClone3(granted(t, withDockerSeccomp(t, runcSpec(t)), ProfileMinimal)), profile: ProfileMinimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.spec, Request{OptedIn: true, Profile: tt.profile, CheckpointSeccomp: tt.mode}, host)
			if got := errors.Is(err, ErrSeccompDump); got != tt.wantErr {
				t.Fatalf("err = %v, want ErrSeccompDump %v", err, tt.wantErr)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("unexpected refusal: %v", err)
			}
		})
	}
}
